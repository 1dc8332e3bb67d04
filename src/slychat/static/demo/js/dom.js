// DOM building without HTML strings: every piece of text becomes a text node, so nothing
// a user typed (message text, product or store names) is ever parsed as markup.

// h("li", {class: "x", dataset: {id}, onclick}, child, "text", ...)
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "href" || name === "src") el.setAttribute(name, String(value));
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function byId(id) {
  return document.getElementById(id);
}

export function show(el, visible) {
  el.hidden = !visible;
}

export function setText(el, text) {
  el.textContent = text ?? "";
}

// Backslashes, and every separator, control, format, private-use or unassigned character
// (whitespace included): browsers drop or reinterpret some of them inside a URL, so a URL
// holding one is not taken at all.
const UNPLAIN = /[\\\p{C}\p{Z}]/u;
// DNS labels, IPv4, or a bracketed IPv6: what a host may be made of to be taken.
const PLAIN_HOST = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])$/;

// A plain absolute http(s) URL, or null: the server's rule (domain/web_urls.py), so that
// `javascript:` and other schemes never reach an href or src, nor does a URL with a user
// name or password, or whose host is written otherwise than the browser reads it
// (percent-escapes, IPv4 shorthand, Unicode, another spelling of the port).
export function safeUrl(value) {
  if (typeof value !== "string" || !value || UNPLAIN.test(value)) return null;
  // The host and port as written, in ASCII (a host in Unicode is refused).
  const written = /^https?:\/\/([\x21-\x7e]*?)(?:[/?#]|$)/i.exec(value)?.[1].toLowerCase();
  let url;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (written === undefined || url.username || url.password) return null;
  if (!PLAIN_HOST.test(url.hostname)) return null;
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return written === url.host || written === `${url.hostname}:${port}` ? url : null;
}

// Whether the page may show an image from `value`: its Content-Security-Policy allows
// this origin, the media origins and (default ports of) SLYCHAT_MEDIA_HOSTS. Anything
// else would only be blocked, so it is not tried (a placeholder stands in).
export function imageAllowed(value, config) {
  const url = safeUrl(value);
  if (!url) return null;
  if (url.origin === location.origin || config.imageOrigins.includes(url.origin)) return url.href;
  const defaultPort = url.port === "";
  const host = url.hostname.toLowerCase();
  const listed = config.imageHosts.some((h) => host === h || host.endsWith(`.${h}`));
  return listed && defaultPort ? url.href : null;
}
