// Draws the message list: each message with its author, time, the message
// it answers, its text (or tombstone), reactions, who has read up to it,
// and the actions the reader may take on it.

import { h, time } from "/assets/dom.js";

/** The reactions every message offers. */
export const EMOJI = ["👍", "❤️", "😂", "🎉", "😮"];

/**
 * @param {HTMLOListElement} list
 * @param {import("./room.js").Room} room
 * @param {{ reply: (m) => void, edit: (m) => void, remove: (m) => void,
 *           react: (m, emoji: string) => void, report: (m) => void }} actions
 */
export function renderMessages(list, room, actions) {
  const messages = room.ordered();
  const readers = readersByMessage(room, messages);
  const drawn = cache.get(list) ?? new Map();
  const next = new Map();
  const elements = messages.map((message) => {
    const parent = message.reply_to ? room.messages.get(message.reply_to) : null;
    const seenBy = readers.get(message.id) ?? [];
    // Everything the item shows: an unchanged message keeps its element,
    // so focus and the reader's place in it survive a redraw.
    const key = JSON.stringify([message, parent?.text, parent?.deleted_at, seenBy, room.me, armed.id === message.id]);
    const known = drawn.get(message.id);
    const element = known?.key === key ? known.element : renderMessage(message, room, actions, seenBy);
    next.set(message.id, { key, element });
    return element;
  });
  cache.set(list, next);
  elements.forEach((element, index) => {
    if (list.children[index] !== element) list.insertBefore(element, list.children[index] ?? null);
  });
  while (list.children.length > elements.length) list.lastElementChild.remove();
}

/** The items drawn last time, by list, then by message id. */
const cache = new WeakMap();

/** The message whose Delete was pressed once, waiting for the second press. */
const armed = { id: null, timer: 0 };

function renderMessage(message, room, actions, readers) {
  const mine = message.author === room.me;
  const deleted = Boolean(message.deleted_at);
  const name = displayName(message);
  const parent = message.reply_to ? room.messages.get(message.reply_to) : null;
  return h("li", {
    class: `message${mine ? " mine" : ""}${deleted ? " deleted" : ""}`,
    "data-id": message.id,
    "data-offset": message.offset,
  },
    h("div", { class: "message-head" },
      h("span", { class: "author" }, name),
      h("time", { class: "stamp", datetime: new Date(message.created_at).toISOString() }, time(message.created_at)),
      message.edited_at && !deleted ? h("span", { class: "stamp" }, "(edited)") : null,
    ),
    message.reply_to
      ? h("p", { class: "reply-quote" }, parent
        ? `↪ ${displayName(parent)}: ${parent.deleted_at ? "(deleted)" : truncate(parent.text)}`
        : "↪ an earlier message")
      : null,
    h("p", { class: "text" }, deleted ? "This message was deleted." : message.status === "hidden" && !message.text ? "Hidden by a moderator." : message.text),
    deleted ? null : h("div", { class: "message-tools" },
      EMOJI.map((emoji) => {
        const reaction = message.reactions?.[emoji];
        return h("button", {
          type: "button",
          class: "reaction",
          "aria-pressed": reaction?.me ? "true" : "false",
          "aria-label": `React ${emoji}${reaction ? `, ${reaction.count} so far` : ""}`,
          onclick: () => actions.react(message, emoji),
        }, reaction ? `${emoji} ${reaction.count}` : emoji);
      }),
      Object.entries(message.reactions ?? {})
        .filter(([emoji]) => !EMOJI.includes(emoji))
        .map(([emoji, reaction]) => h("span", { class: "reaction" }, `${emoji} ${reaction.count}`)),
      h("button", { type: "button", onclick: () => actions.reply(message) }, "Reply"),
      mine ? h("button", { type: "button", onclick: () => actions.edit(message) }, "Edit") : null,
      mine ? h("button", { type: "button", class: "danger", onclick: (event) => confirmThen(event.currentTarget, message.id, () => actions.remove(message)) }, armed.id === message.id ? "Really delete?" : "Delete") : null,
      mine ? null : h("button", { type: "button", onclick: () => actions.report(message) }, "Report"),
    ),
    readers.length ? h("p", { class: "receipts" }, `Seen by ${readers.join(", ")}`) : null,
  );
}

/**
 * The other readers whose read marker is at each message: a reader is
 * shown under the newest message they have read.
 */
function readersByMessage(room, messages) {
  const result = new Map();
  for (const [user, offset] of room.reads) {
    if (user === room.me) continue;
    let at = null;
    for (const message of messages) if (message.offset <= offset) at = message;
    if (!at) continue;
    const name = room.people.get(user)?.name ?? user;
    result.set(at.id, [...(result.get(at.id) ?? []), name]);
  }
  return result;
}

/**
 * The author's name as the message carries it (from the sender's token),
 * else the user id. Messages sent before the server stored names carry the
 * demo's earlier `meta.name`.
 */
export function displayName(message) {
  const name = message.author_name ?? message.meta?.name;
  return typeof name === "string" && name ? name : message.author;
}

/** Short text for quotes. */
export function truncate(text, length = 80) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

/** A destructive button asks once more before acting. */
function confirmThen(button, id, action) {
  clearTimeout(armed.timer);
  if (armed.id === id) {
    armed.id = null;
    action();
    return;
  }
  armed.id = id;
  button.textContent = "Really delete?";
  armed.timer = setTimeout(() => {
    armed.id = null;
    if (button.isConnected) button.textContent = "Delete";
  }, 4000);
}
