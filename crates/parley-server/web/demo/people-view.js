// Draws who is here (with the live count) and who is typing.

import { h, replace } from "/assets/dom.js";

/**
 * @param {{ list: HTMLElement, count: HTMLElement }} elements
 * @param {import("./room.js").Room} room
 */
export function renderPeople({ list, count }, room) {
  const people = [...room.people.entries()]
    .map(([user, { name }]) => ({ user, name: name ?? user }))
    .sort((a, b) => a.name.localeCompare(b.name));
  replace(count, String(people.length));
  count.setAttribute("aria-label", `${people.length} here now`);
  replace(list, people.map(({ user, name }) =>
    h("li", { "data-user": user }, name, user === room.me ? h("span", { class: "muted" }, " (you)") : null)));
}

/**
 * @param {HTMLElement} element
 * @param {import("./room.js").Room} room
 */
export function renderTyping(element, room) {
  const names = room.typers.map((typer) => typer.name ?? typer.user);
  const text = names.length === 0
    ? ""
    : names.length === 1
      ? `${names[0]} is typing…`
      : names.length === 2
        ? `${names[0]} and ${names[1]} are typing…`
        : `${names.length} people are typing…`;
  replace(element, text);
}
