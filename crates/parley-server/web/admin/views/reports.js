// The reports queue: GET /api/v1/reports by status, paged, and resolving an
// open report by dismissing it, hiding or deleting the message.

import { dateTime, h, replace } from "/assets/dom.js";
import { call } from "../api.js";
import { attempt, channelLink, field, table } from "./ui.js";

export function showReports(context) {
  const status = h("select", { name: "status" },
    h("option", { value: "open" }, "Open"),
    h("option", { value: "resolved" }, "Resolved"),
    h("option", { value: "all" }, "All"));
  const list = h("div", { id: "reports" });
  let pages = [];

  replace(context.view,
    h("h2", {}, "Reports"),
    h("form", { class: "inline-form", onsubmit: (event) => { event.preventDefault(); pages = []; load(); } },
      field("Status", status), h("button", { type: "submit" }, "Show")),
    list,
  );

  async function load(before) {
    const answer = await attempt(context, () => call("GET", "/api/v1/reports", { query: { status: status.value, before, limit: 50 } }));
    if (!answer) return;
    const rows = answer.reports.map((report) => [
      h("code", {}, report.id),
      channelLink(report.channel),
      h("code", {}, report.message_id),
      h("code", {}, report.reporter),
      h("span", { class: "text" }, report.reason),
      report.status === "open" ? "open" : `${report.action} by ${report.resolved_by}`,
      dateTime(report.created_at),
      report.status === "open"
        ? h("div", { class: "row-actions" },
          ["dismiss", "hide", "delete"].map((action) =>
            h("button", { type: "button", class: action === "delete" ? "danger" : null, onclick: () => resolve(report, action) },
              action[0].toUpperCase() + action.slice(1))))
        : "",
    ]);
    const last = answer.reports.at(-1)?.id;
    replace(list,
      table("Reports, newest first", ["Id", "Channel", "Message", "Reporter", "Reason", "Status", "Filed", ""], rows, "No reports."),
      answer.has_more && last ? h("button", { type: "button", onclick: () => { pages.push(before); load(last); } }, "Older reports") : null,
      pages.length ? h("button", { type: "button", onclick: () => load(pages.pop()) }, "Newer reports") : null);
  }

  async function resolve(report, action) {
    const answer = await attempt(context, () => call("POST", `/api/v1/reports/${report.id}/resolve`, { body: { action } }));
    if (answer) load();
  }

  load();
}
