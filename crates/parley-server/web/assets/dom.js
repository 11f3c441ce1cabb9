// Small DOM helpers shared by the demo and the admin UI. Pages build their
// elements with `h` and never assign HTML strings, so text from users and
// from the server is always inserted as text.

/**
 * Makes an element: `h("button", { class: "x", onclick }, "Send")`.
 * Attributes whose name starts with "on" become listeners; `null`,
 * `undefined` and `false` attributes are left out; children may be nodes,
 * strings, numbers, or arrays of them.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces every child of `element` with `children`. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** A time of day from milliseconds since the epoch, in the reader's locale. */
export function time(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** A date and time from milliseconds since the epoch. */
export function dateTime(ms) {
  return new Date(ms).toLocaleString();
}
