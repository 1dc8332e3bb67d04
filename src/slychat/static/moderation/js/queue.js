// The queue: counts by reason, the repeat offenders, the list of reports (newest first).

import { byId, h, show } from "./dom.js";
import * as f from "./format.js";

const MAX_OFFENDERS = 5;

export function renderCounts(counts) {
  const list = byId("counts");
  const shown = Object.entries(counts ?? {}).filter(([, n]) => n > 0);
  shown.sort((a, b) => b[1] - a[1]);
  list.replaceChildren(
    ...(shown.length
      ? shown.map(([reason, n]) => h("li", { dataset: { reason } }, h("span", { class: "n" }, n), ` ${f.reason(reason)}`))
      : [h("li", {}, "None")]),
  );
}

// Target users with more than one open report, most first (each report says how many its
// target has: `targetOpenReports`).
export function offendersOf(reports) {
  const byUser = new Map();
  for (const report of reports) {
    const { userType, userId } = report.target;
    const id = `${userType}:${userId}`;
    const open = report.targetOpenReports ?? 0;
    if (open > 1 && !byUser.has(id)) byUser.set(id, { userType, userId, open });
  }
  return [...byUser.values()].sort((a, b) => b.open - a.open).slice(0, MAX_OFFENDERS);
}

export function renderOffenders(reports, onPick) {
  const offenders = offendersOf(reports);
  const list = byId("offenders");
  list.replaceChildren(
    ...offenders.map((o) =>
      h(
        "li",
        {},
        h(
          "button",
          { type: "button", class: "quiet", dataset: { userType: o.userType, userId: o.userId }, onclick: () => onPick(o) },
          h("span", {}, f.user(o.userType, o.userId)),
          h("span", { class: "n" }, `${o.open} open`),
        ),
      ),
    ),
  );
  if (!offenders.length) list.append(h("li", { class: "hint" }, "No user has more than one open report."));
}

// One report as a row of a list; `current`: the one open beside it.
export function reportRow(report, current, onOpen) {
  const open = report.targetOpenReports ?? 0;
  return h(
    "li",
    {},
    h(
      "button",
      {
        type: "button",
        class: "report-row quiet",
        "aria-current": current ? "true" : null,
        dataset: { id: report.id, status: report.status },
        onclick: () => onOpen(report.id),
      },
      h(
        "span",
        { class: "row-top" },
        h("span", { class: "row-reason" }, f.reason(report.reason), report.automatic ? h("span", { class: "tag" }, "auto") : null),
        h("span", { class: "row-time" }, f.time(report.createdAt)),
      ),
      h(
        "span",
        { class: "row-sub" },
        `${report.target.kind === "message" ? "Message by" : "User"} ${f.target(report)}`,
        report.status === "open" && open > 1 ? ` · ${open} open reports` : "",
        report.status === "resolved" ? " · resolved" : "",
      ),
      report.note ? h("span", { class: "row-preview" }, report.note) : null,
    ),
  );
}

export function renderReports(reports, selectedId, onOpen, emptyText) {
  byId("report-list").replaceChildren(...reports.map((r) => reportRow(r, r.id === selectedId, onOpen)));
  const empty = byId("no-reports");
  empty.textContent = emptyText;
  show(empty, reports.length === 0);
}
