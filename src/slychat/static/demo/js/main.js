// Start-up: the server's settings, the client library, then sign-in (a dev token from
// the server in dev mode, a pasted token otherwise) and the chat itself. The page's chat
// logic is the slychat-client package (clients/js), which `make run` builds and copies to
// /demo/dist/; the modules that use it are loaded once it is known to be there.

import { loadConfig, mintDevToken } from "./api.js";
import { byId, setText, show } from "./dom.js";

const SESSION_KEY = "slychat-demo"; // per window: two windows are two people
const CLIENT_LIBRARY = "/demo/dist/slychat-client.js";
const MISSING_CLIENT =
  "The Socket.IO client library is missing from this server's files. `make run` builds " +
  "it from npm (the slychat-client package in clients/js, with socket.io-client): install " +
  "Node.js and npm, then run `make run` again.";

let app = null;

async function boot() {
  let config;
  try {
    config = await loadConfig();
  } catch (err) {
    fatal(`Could not read the page's settings from the server (${err.message}).`);
    return;
  }
  if (!config.clientLibrary) {
    fatal(MISSING_CLIENT);
    return;
  }
  let App;
  try {
    await import(CLIENT_LIBRARY);
    ({ App } = await import("./app.js"));
  } catch {
    fatal(MISSING_CLIENT);
    return;
  }
  const form = byId("sign-in-form");
  form.addEventListener("submit", (event) => signIn(event, App, config));
  const saved = readSession();
  if (saved && saved.devMode === config.devMode) start(App, config, saved);
  else showSignIn(config, "");
}

function showSignIn(config, message) {
  show(byId("workspace"), false);
  show(byId("whoami"), false);
  show(byId("sign-out"), false);
  show(byId("sign-in"), true);
  // Without dev mode the server never mints tokens: the person brings one.
  show(byId("token-field"), !config.devMode);
  show(byId("user-id-field"), config.devMode);
  for (const radio of document.querySelectorAll("input[name=role]")) radio.disabled = !config.devMode;
  byId("sign-in").querySelector(".roles").hidden = !config.devMode;
  setText(byId("sign-in-error"), message);
  (config.devMode ? byId("user-id") : byId("token")).focus();
}

async function signIn(event, App, config) {
  event.preventDefault();
  const form = event.target;
  const error = byId("sign-in-error");
  setText(error, "");
  try {
    let session;
    if (config.devMode) {
      const role = form.role.value;
      const id = Number.parseInt(form.userId.value, 10);
      if (!Number.isInteger(id) || id < 0) throw new Error("The user id is a whole number, 0 or more.");
      const minted = await mintDevToken(role, id);
      session = { token: minted.token, role, id: minted.userId, devMode: true };
    } else {
      const token = form.token.value.trim().replace(/^Bearer\s+/i, "");
      const who = claimsOf(token);
      session = { token, role: who.role, id: who.id, devMode: false };
    }
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    start(App, config, session);
  } catch (err) {
    setText(error, err.message);
  }
}

function start(App, config, session) {
  show(byId("sign-in"), false);
  show(byId("workspace"), true);
  app = new App(config, session, {
    onSignOut: (message) => {
      app?.stop();
      app = null;
      sessionStorage.removeItem(SESSION_KEY);
      document.body.classList.remove("show-conversation");
      showSignIn(config, message);
    },
  });
}

// Who a pasted token names, to set the page up; the server checks the token itself and
// says who it names again when /presence opens.
export function claimsOf(token) {
  const unreadable = new Error("That is not a token this page can read (a JWT: three parts separated by dots).");
  const parts = token.split(".");
  if (parts.length !== 3) throw unreadable;
  let claims;
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    claims = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw unreadable;
  }
  const platform = claims?.data && typeof claims.data === "object" && "id" in claims.data;
  const id = Number(platform ? claims.data.id : claims?.sub);
  const role = String(platform ? claims.types?.[0] : claims?.role).toLowerCase();
  if (!Number.isInteger(id) || !["customer", "vendor"].includes(role)) {
    throw new Error("This token does not name a customer or a vendor: the chat is theirs.");
  }
  return { id, role };
}

function readSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null");
    return saved && typeof saved.token === "string" ? saved : null;
  } catch {
    return null;
  }
}

function fatal(text) {
  setText(byId("fatal-text"), text);
  show(byId("fatal"), true);
  show(byId("sign-in"), false);
}

boot();
