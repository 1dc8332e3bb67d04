// The moderation console: sign in with an API key (this tab only), the queue, one report
// and its decision. All state is here; queue.js and report.js draw it.

import { ApiError, ModerationApi, describe } from "./api.js";
import { byId, setText, show } from "./dom.js";
import * as f from "./format.js";
import { renderCounts, renderOffenders, renderReports } from "./queue.js";
import { renderMedia, renderOthers, renderReport } from "./report.js";
import { forgetKey, keyId, parseKey, readKey, saveKey } from "./session.js";

const PAGE_SIZE = 50;
const OTHERS_LIMIT = 20;

const state = {
  api: null,
  status: "open", // the queue's filter
  target: null, // {userType, userId}: only the reports against this user
  reports: [],
  next: null, // the `before` of the next page
  current: null, // the report open beside the queue
  blobUrls: [], // the current report's media, revoked when it closes
  // Tickets: an answer that arrives after its view changed (signed out, another page of
  // the queue asked for, another report opened) is dropped.
  tickets: { queue: 0, report: 0 },
};

function ticket(kind) {
  state.tickets[kind] += 1;
  const mine = state.tickets[kind];
  return () => state.tickets[kind] === mine;
}

function boot() {
  byId("sign-in-form").addEventListener("submit", signIn);
  byId("sign-out").addEventListener("click", () => signOut(""));
  byId("alert-close").addEventListener("click", clearAlert);
  byId("refresh").addEventListener("click", () => loadQueue());
  byId("more-reports").addEventListener("click", () => loadQueue({ more: true }));
  byId("target-filter-clear").addEventListener("click", () => filterTarget(null));
  byId("back").addEventListener("click", closeReport);
  // Buttons, not submits: Enter in the note or the date must not decide anything.
  byId("decide").addEventListener("submit", (event) => event.preventDefault());
  for (const button of byId("decide").querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => decide(button.dataset.action));
  }
  for (const radio of document.querySelectorAll("input[name=status]")) {
    radio.addEventListener("change", () => {
      state.status = radio.value;
      loadQueue();
    });
  }
  const key = readKey();
  if (key) start(key);
  else showSignIn("");
}

// --- signing in and out --------------------------------------------------------------

function showSignIn(message) {
  show(byId("console"), false);
  show(byId("whoami"), false);
  show(byId("sign-out"), false);
  show(byId("sign-in"), true);
  setText(byId("sign-in-error"), message);
  byId("api-key").focus();
}

async function signIn(event) {
  event.preventDefault();
  const input = byId("api-key");
  setText(byId("sign-in-error"), "");
  let key;
  try {
    key = parseKey(input.value);
  } catch (err) {
    setText(byId("sign-in-error"), err.message);
    input.focus();
    return;
  }
  // The key is kept only once the API took it: a mistyped one is not remembered.
  try {
    await new ModerationApi(key).reports({ status: "open", limit: 1 });
  } catch (err) {
    setText(byId("sign-in-error"), describe(err));
    input.focus();
    return;
  }
  input.value = "";
  saveKey(key);
  start(key);
}

function start(key) {
  state.api = new ModerationApi(key);
  setText(byId("whoami"), `Key ${keyId(key)}`);
  show(byId("whoami"), true);
  show(byId("sign-out"), true);
  show(byId("sign-in"), false);
  show(byId("console"), true);
  loadQueue();
  byId("queue-title").focus();
}

function signOut(message) {
  forgetKey();
  ticket("queue");
  closeReport();
  Object.assign(state, { api: null, reports: [], next: null, target: null });
  // Nothing read with the old key stays on the page for the next one to see.
  for (const id of ["report-list", "counts", "offenders", "others"]) byId(id).replaceChildren();
  clearAlert();
  showSignIn(message);
}

// --- what went wrong, what happened -----------------------------------------------------

function alertOf(err) {
  const text = describe(err);
  if (err instanceof ApiError && err.status === 401) {
    signOut(text); // the key no longer works: nothing else can
    return;
  }
  setText(byId("alert-text"), text);
  show(byId("alert"), true);
}

function clearAlert() {
  setText(byId("alert-text"), "");
  show(byId("alert"), false);
}

function announce(text) {
  setText(byId("status"), text);
}

// --- the queue -------------------------------------------------------------------------

// `quiet`: a reload the moderator did not ask for (after a decision), which must not talk
// over what the decision announced.
async function loadQueue({ more = false, quiet = false } = {}) {
  const current = ticket("queue");
  const query = { status: state.status, limit: PAGE_SIZE, before: more ? state.next : undefined };
  if (state.target) Object.assign(query, { targetUserType: state.target.userType, targetUserId: state.target.userId });
  let page;
  try {
    page = await state.api.reports(query);
  } catch (err) {
    if (current()) alertOf(err);
    return;
  }
  if (!current()) return;
  state.reports = more ? [...state.reports, ...page.reports] : page.reports;
  state.next = page.hasMore ? page.next : null;
  renderCounts(page.countsByReason);
  drawQueue();
  if (!quiet) announce(`${state.reports.length} ${state.status} report${state.reports.length === 1 ? "" : "s"} shown.`);
}

function drawQueue() {
  const who = drawTargetFilter();
  // The offenders panel ranks the open queue; a filtered list needs no ranking.
  show(byId("offenders-panel"), state.status === "open" && who === null);
  renderOffenders(state.reports, (o) => filterTarget(o));
  const empty = `No ${state.status} reports${who ? ` against ${who}` : ""}.`;
  renderReports(state.reports, state.current?.id, openReport, empty);
  show(byId("more-reports"), state.next !== null);
}

// The bar saying whose reports the queue shows; the user's name, or null.
function drawTargetFilter() {
  const who = state.target ? f.user(state.target.userType, state.target.userId) : null;
  show(byId("target-filter"), who !== null);
  setText(byId("target-filter-text"), who ? `Reports against ${who}` : "");
  return who;
}

function filterTarget(target) {
  state.target = target;
  drawTargetFilter(); // at once, so that focus can go to it while the list loads
  (target ? byId("target-filter-clear") : byId("queue-title")).focus();
  loadQueue();
}

// --- one report ------------------------------------------------------------------------

async function openReport(id) {
  const current = ticket("report");
  let report;
  try {
    report = await state.api.report(id);
  } catch (err) {
    if (current()) alertOf(err);
    return;
  }
  if (!current()) return;
  showReport(report, current);
  document.body.classList.add("show-detail");
  byId("detail-title").focus();
}

function showReport(report, current) {
  revokeMedia();
  state.current = report;
  show(byId("detail-empty"), false);
  show(byId("detail-body"), true);
  renderReport(report);
  byId("decision-note").value = "";
  byId("suspend-until").value = "";
  drawQueue(); // which row is current
  const keep = (url) => {
    state.blobUrls.push(url);
    return url;
  };
  renderMedia(report, state.api, { keep, current, onError: alertOf });
  loadOthers(report, current);
}

async function loadOthers(report, current) {
  const { userType, userId } = report.target;
  // Open and resolved alike, newest first.
  let page;
  try {
    page = await state.api.reports({ targetUserType: userType, targetUserId: userId, limit: OTHERS_LIMIT });
  } catch (err) {
    if (current()) alertOf(err);
    return;
  }
  if (!current()) return;
  renderOthers(page.reports, report.id, openReport);
}

function closeReport() {
  const id = state.current?.id;
  ticket("report");
  revokeMedia();
  state.current = null;
  show(byId("detail-body"), false);
  show(byId("detail-empty"), true);
  document.body.classList.remove("show-detail");
  if (state.api) drawQueue();
  const row = id && document.querySelector(`#report-list .report-row[data-id="${CSS.escape(id)}"]`);
  if (row) row.focus();
}

function revokeMedia() {
  for (const url of state.blobUrls) URL.revokeObjectURL(url);
  state.blobUrls = [];
}

async function decide(action) {
  const report = state.current;
  if (!report) return;
  const error = byId("decide-error");
  setText(error, "");
  let until = null;
  try {
    if (action === "suspend_user") until = f.untilFromInput(byId("suspend-until").value);
  } catch (err) {
    setText(error, err.message);
    byId("suspend-until").focus();
    return;
  }
  const buttons = byId("decide").querySelectorAll("button");
  for (const b of buttons) b.disabled = true;
  const current = ticket("report");
  try {
    const resolved = await state.api.resolve(report.id, action, byId("decision-note").value.trim(), until);
    if (!current()) return;
    showReport(resolved, current);
    announce(`Report resolved: ${f.ACTIONS[action].toLowerCase()}.`);
    byId("decisions-title").focus();
    loadQueue({ quiet: true });
  } catch (err) {
    if (!current()) return;
    alertOf(err);
    setText(error, describe(err));
    // Resolved meanwhile (409) or gone (404): show it as it stands now.
    if (err instanceof ApiError && err.status === 409) {
      openReport(report.id);
      loadQueue({ quiet: true });
    }
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

boot();
