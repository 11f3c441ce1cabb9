// The demo chat's entry point: the join form, then one room, its composer,
// the report dialog, and the page title's unread count.

import { Parley } from "/sdk/index.js";
import { replace } from "/assets/dom.js";
import { Guest } from "./guest.js";
import { describe, Room } from "./room.js";
import { displayName, renderMessages, truncate } from "./message-view.js";
import { renderPeople, renderTyping } from "./people-view.js";

const $ = (id) => document.getElementById(id);
const ROOM_NAME = /^[a-z0-9_-]{1,40}$/;
const TITLE = document.title;

const saved = JSON.parse(localStorage.getItem("parley-demo") ?? "{}");
if (typeof saved.name === "string") $("join-name").value = saved.name;
if (typeof saved.room === "string") $("join-room").value = saved.room;

$("join").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("join-name").value.trim();
  const roomName = $("join-room").value.trim();
  const error = $("join-error");
  error.hidden = true;
  if (!ROOM_NAME.test(roomName)) {
    showError(error, "A room name is 1 to 40 lowercase letters, digits, \"-\" or \"_\".");
    return;
  }
  const guest = new Guest(name);
  try {
    await guest.getToken();
  } catch (failure) {
    showError(error, `Cannot join: ${failure.message}`);
    return;
  }
  localStorage.setItem("parley-demo", JSON.stringify({ name, room: roomName }));
  join(guest, roomName);
});

function showError(element, text) {
  replace(element, text);
  element.hidden = false;
}

/** Opens the room: the client, the room state, and the view's wiring. */
function join(guest, roomName) {
  const parley = new Parley(location.origin, { getToken: () => guest.getToken() });
  const list = $("message-list");
  const scroller = $("messages");
  const composer = { mode: "send", target: null };
  const room = new Room(parley, `demo:${roomName}`, (what) => draw(what));

  $("join").hidden = true;
  $("room").hidden = false;
  replace($("room-title"), `#${roomName}`);
  replace($("you-name"), guest.name);
  replace($("you-id"), guest.user);

  const actions = {
    reply(message) {
      setComposer("reply", message, `Replying to ${displayName(message)}: ${truncate(message.text, 60)}`);
    },
    edit(message) {
      setComposer("edit", message, "Editing your message");
      $("composer-text").value = message.text;
    },
    remove(message) {
      room.remove(message.id).catch((error) => notice(`Cannot delete: ${describe(error)}`));
    },
    react(message, emoji) {
      room.toggleReaction(message.id, emoji).catch((error) => notice(`Cannot react: ${describe(error)}`));
    },
    report(message) {
      openReport(room, message);
    },
  };

  function draw(what) {
    if (what === "messages" || what === "receipts" || what === "older") {
      const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
      const fromBottom = scroller.scrollHeight - scroller.scrollTop;
      renderMessages(list, room, actions);
      $("older").hidden = !room.hasOlder;
      // Older messages keep the reader's place; new ones follow the bottom.
      if (what === "older") scroller.scrollTop = scroller.scrollHeight - fromBottom;
      else if (nearBottom || what === "messages" && room.ordered().at(-1)?.author === room.me) scroller.scrollTop = scroller.scrollHeight;
      updateTitle();
    } else if (what === "people") {
      renderPeople({ list: $("people-list"), count: $("people-count") }, room);
      renderMessages(list, room, actions);
    } else if (what === "typing") {
      renderTyping($("typing"), room);
    } else if (what === "status") {
      const banner = $("connection");
      banner.className = `connection ${room.status.kind}`;
      replace(banner, room.status.text);
      replace($("you-id"), room.me || guest.user);
      if (room.ended) {
        notice(room.ended);
        $("composer-text").disabled = true;
        $("composer-send").disabled = true;
      }
    }
  }

  function updateTitle() {
    const unread = room.unread();
    document.title = unread > 0 ? `(${unread}) ${TITLE}` : TITLE;
  }

  function setComposer(mode, message, text) {
    composer.mode = mode;
    composer.target = message;
    replace($("composer-context-text"), text);
    $("composer-context").hidden = mode === "send";
    if (mode === "send") $("composer-text").value = "";
    $("composer-text").focus();
  }

  $("composer-cancel").addEventListener("click", () => setComposer("send", null, ""));
  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("composer-text");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    room.typing(false);
    try {
      if (composer.mode === "edit") await room.edit(composer.target.id, text);
      else await room.send(text, composer.mode === "reply" ? composer.target.id : undefined);
      setComposer("send", null, "");
    } catch (error) {
      input.value = text;
      notice(`Not sent: ${describe(error)}`);
    }
  });
  $("composer-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("composer-text").addEventListener("input", (event) => room.typing(event.target.value.length > 0));
  $("older").addEventListener("click", () => room.loadOlder());
  scroller.addEventListener("scroll", () => {
    if (scroller.scrollTop < 40) room.loadOlder();
  });
  document.addEventListener("visibilitychange", () => {
    room.markRead();
    updateTitle();
  });

  parley.connect().catch((error) => notice(`Cannot connect: ${describe(error)}`));
}

/** Shows a problem above the messages until the next one. */
function notice(text) {
  const element = $("room-notice");
  element.className = "notice bad";
  replace(element, text);
  element.hidden = false;
}

/** The report dialog for one message. */
function openReport(room, message) {
  const dialog = $("report-dialog");
  replace($("report-quote"), `${displayName(message)}: ${truncate(message.text)}`);
  $("report-reason").value = "";
  const form = $("report-form");
  const onSubmit = async (event) => {
    event.preventDefault();
    const reason = $("report-reason").value.trim();
    if (!reason) return;
    dialog.close();
    try {
      await room.report(message.id, reason);
      const element = $("room-notice");
      element.className = "notice ok";
      replace(element, "Thanks: the moderators will look at it.");
      element.hidden = false;
    } catch (error) {
      notice(`Cannot report: ${describe(error)}`);
    }
  };
  form.addEventListener("submit", onSubmit, { once: true });
  $("report-cancel").onclick = () => {
    form.removeEventListener("submit", onSubmit);
    dialog.close();
  };
  dialog.showModal();
  $("report-reason").focus();
}
