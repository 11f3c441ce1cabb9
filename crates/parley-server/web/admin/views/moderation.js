// Moderation: the mutes and bans in force (lift them), a new mute, shadow
// mute or ban (app-wide or in one channel, for a duration or until
// lifted), and disconnecting a user's connections.

import { dateTime, h, replace } from "/assets/dom.js";
import { call } from "../api.js";
import { attempt, channelLink, field, table } from "./ui.js";

export function showModeration(context) {
  const filter = h("input", { placeholder: "any user" });
  const list = h("div", { id: "restrictions" });
  const user = h("input", { required: true, name: "user" });
  const channel = h("input", { placeholder: "whole app", name: "channel" });
  const kind = h("select", { name: "kind" },
    h("option", { value: "ban" }, "Ban"),
    h("option", { value: "mute" }, "Mute"),
    h("option", { value: "shadow" }, "Shadow mute"));
  const duration = h("input", { placeholder: "until lifted (or 10m, 2h, 7d)", name: "duration" });
  const restricted = h("p", { class: "result", role: "status" });
  const disconnectUser = h("input", { required: true, name: "disconnect-user" });
  const disconnected = h("p", { class: "result", role: "status" });

  replace(context.view,
    h("h2", {}, "Restrict a user"),
    h("form", { class: "inline-form", id: "restrict-form", onsubmit: (event) => { event.preventDefault(); restrict(); } },
      field("User id", user), field("Channel", channel), field("Action", kind), field("Duration", duration),
      h("button", { type: "submit", class: "primary" }, "Apply")),
    restricted,
    h("h2", {}, "In force"),
    h("form", { class: "inline-form", onsubmit: (event) => { event.preventDefault(); load(); } },
      field("User id", filter), h("button", { type: "submit" }, "Filter")),
    list,
    h("h2", {}, "Disconnect a user"),
    h("p", { class: "muted" }, "Closes the user's connections on this node (close code 4003). It does not stop them connecting again: ban them for that."),
    h("form", { class: "inline-form", onsubmit: (event) => { event.preventDefault(); disconnect(); } },
      field("User id", disconnectUser), h("button", { type: "submit", class: "danger" }, "Disconnect")),
    disconnected,
  );

  async function load() {
    const answer = await attempt(context, () => call("GET", "/api/v1/moderation/restrictions", { query: { user: filter.value.trim() } }));
    if (!answer) return;
    replace(list, table("Restrictions in force", ["User", "Kind", "Channel", "Until", "By", ""],
      answer.restrictions.map((restriction) => [
        h("code", {}, restriction.user),
        restriction.kind.replace("_", " "),
        restriction.channel ? channelLink(restriction.channel) : "whole app",
        restriction.expires_at ? dateTime(restriction.expires_at) : "lifted by hand",
        restriction.created_by,
        h("button", { type: "button", onclick: () => lift(restriction) }, "Lift"),
      ]), "No mutes or bans are in force."));
  }

  async function restrict() {
    const body = { user: user.value.trim() };
    if (channel.value.trim()) body.channel = channel.value.trim();
    if (duration.value.trim()) body.duration = duration.value.trim();
    if (kind.value === "shadow") body.shadow = true;
    const path = kind.value === "ban" ? "/api/v1/moderation/ban" : "/api/v1/moderation/mute";
    const restriction = await attempt(context, () => call("POST", path, { body }));
    if (!restriction) return;
    replace(restricted, `Done: ${restriction.kind.replace("_", " ")} of ${restriction.user}${restriction.channel ? ` in ${restriction.channel}` : " in the whole app"}.`);
    load();
  }

  async function lift(restriction) {
    const body = { user: restriction.user };
    if (restriction.channel) body.channel = restriction.channel;
    if (restriction.kind === "shadow_mute") body.shadow = true;
    const path = restriction.kind === "ban" ? "/api/v1/moderation/unban" : "/api/v1/moderation/unmute";
    const answer = await attempt(context, () => call("POST", path, { body }));
    if (answer) load();
  }

  async function disconnect() {
    const answer = await attempt(context, () => call("POST", "/api/v1/disconnect", { body: { user: disconnectUser.value.trim() } }));
    if (answer) replace(disconnected, `Asked ${answer.disconnected} connection${answer.disconnected === 1 ? "" : "s"} to close.`);
  }

  load();
}
