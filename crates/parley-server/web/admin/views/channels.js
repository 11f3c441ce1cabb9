// The active channels: GET /api/v1/channels, with a prefix filter.

import { h, replace } from "/assets/dom.js";
import { call } from "../api.js";
import { attempt, channelLink, field, table } from "./ui.js";

export function showChannels(context) {
  const prefix = h("input", { placeholder: "demo:" });
  const open = h("input", { placeholder: "demo:lobby", required: true });
  const list = h("div", { id: "channels" });
  replace(context.view,
    h("h2", {}, "Active channels"),
    h("form", { class: "inline-form", onsubmit: (event) => { event.preventDefault(); load(); } },
      field("Name starts with", prefix),
      h("button", { type: "submit" }, "Filter")),
    list,
    h("h2", {}, "Open any channel"),
    h("p", { class: "muted" }, "A channel with nobody subscribed is not listed above; open it by name."),
    h("form", { class: "inline-form", onsubmit: (event) => {
      event.preventDefault();
      location.hash = `#/channel/${encodeURIComponent(open.value.trim())}`;
    } }, field("Channel", open), h("button", { type: "submit" }, "Open")),
  );

  async function load() {
    const answer = await attempt(context, () => call("GET", "/api/v1/channels", { query: { prefix: prefix.value.trim() } }));
    if (!answer) return;
    replace(list, table("Active channels", ["Channel", "Subscribers"],
      answer.channels.map(({ channel, subscribers }) => [channelLink(channel), String(subscribers)]),
      "No channel has a subscriber on this node."));
  }

  load();
  const timer = setInterval(load, 5000);
  context.onLeave(() => clearInterval(timer));
}
