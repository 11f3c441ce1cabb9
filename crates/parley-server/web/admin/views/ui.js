// Pieces the admin views share: tables, labelled fields, and running an API
// call with its failure shown plainly.

import { h } from "/assets/dom.js";

let fieldCount = 0;

/** A labelled control in an inline form. */
export function field(text, control) {
  fieldCount += 1;
  const id = control.id || `field-${fieldCount}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, text), control);
}

/** A table with a header row; `rows` are arrays of cells (nodes or text). */
export function table(caption, headers, rows, empty = "Nothing here.") {
  if (rows.length === 0) return h("p", { class: "muted" }, empty);
  return h("table", {},
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, headers.map((header) => h("th", { scope: "col" }, header)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))),
  );
}

/**
 * Runs `action` and reports its failure through the context; resolves with
 * the action's result, or `undefined` when it failed.
 */
export async function attempt(context, action) {
  context.clear();
  try {
    return await action();
  } catch (error) {
    context.fail(error);
    return undefined;
  }
}

/** A channel link to its page. */
export function channelLink(channel) {
  return h("a", { href: `#/channel/${encodeURIComponent(channel)}` }, channel);
}
