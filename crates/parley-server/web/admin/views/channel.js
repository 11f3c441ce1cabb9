// One channel: who is present and the counts, its chat messages (hide,
// unhide, delete), its stream history, and a test publication.

import { dateTime, h, replace } from "/assets/dom.js";
import { call, segment } from "../api.js";
import { attempt, field, table } from "./ui.js";

export function showChannel(context, channel) {
  if (!channel) {
    location.hash = "#/channels";
    return;
  }
  const presence = h("div", { id: "channel-presence" });
  const messages = h("div", { id: "channel-messages" });
  const history = h("div", { id: "channel-history" });
  const published = h("p", { class: "result", role: "status" });
  const data = h("textarea", { rows: 3 }, '{"text": "a test message from the admin UI"}');

  replace(context.view,
    h("h2", {}, "Channel ", h("code", {}, channel)),
    h("h2", {}, "Presence"),
    presence,
    h("h2", {}, "Messages"),
    messages,
    h("h2", {}, "Stream history"),
    history,
    h("h2", {}, "Publish a test message"),
    h("p", { class: "muted" }, "POST /api/v1/publish: any JSON, delivered to the channel's subscribers as sent."),
    h("form", { class: "inline-form", onsubmit: (event) => { event.preventDefault(); publish(); } },
      field("Data (JSON)", data),
      h("button", { type: "submit", class: "primary" }, "Publish")),
    published,
  );

  async function loadPresence() {
    const query = { channel };
    const [members, stats] = await Promise.allSettled([
      call("GET", "/api/v1/presence", { query }),
      call("GET", "/api/v1/presence/stats", { query }),
    ]);
    if (members.status === "rejected") {
      replace(presence, h("p", { class: "muted" }, `No presence: ${members.reason.message}`));
      return;
    }
    const counts = stats.status === "fulfilled"
      ? `${stats.value.num_users} users, ${stats.value.num_connections} connections, ${stats.value.num_anonymous} anonymous`
      : `counts unavailable: ${stats.reason.message}`;
    replace(presence,
      h("p", {}, counts),
      table("Present users", ["User", "Name", "State"], members.value.members.map((member) => [
        h("code", {}, member.user), member.name ?? "", member.state ? JSON.stringify(member.state) : "",
      ]), "Nobody is present."));
  }

  let oldest = null;
  async function loadMessages(before) {
    let page;
    try {
      page = await call("GET", `/api/v1/channels/${segment(channel)}/messages`, { query: { limit: 50, before } });
    } catch (error) {
      // A channel of a namespace that does not persist has no messages:
      // the API's answer says so where the messages would be.
      replace(messages, h("p", { class: "muted" }, `No messages: ${error.message}`));
      return;
    }
    const rows = page.messages.map((message) => [
      h("code", {}, message.id),
      h("code", {}, message.author),
      h("span", { class: "text" }, message.deleted_at ? "(deleted)" : message.text),
      message.status ?? (message.deleted_at ? "deleted" : ""),
      dateTime(message.created_at),
      message.deleted_at ? "" : h("div", { class: "row-actions" },
        message.status === "hidden"
          ? h("button", { type: "button", onclick: () => act(`/api/v1/messages/${message.id}/unhide`) }, "Unhide")
          : h("button", { type: "button", onclick: () => act(`/api/v1/messages/${message.id}/hide`) }, "Hide"),
        h("button", { type: "button", class: "danger", onclick: () => act(`/api/v1/messages/${message.id}`, "DELETE") }, "Delete")),
    ]);
    oldest = page.messages.at(-1)?.id ?? null;
    replace(messages,
      table("Messages, newest first", ["Id", "Author", "Text", "Status", "Sent", ""], rows, "No messages."),
      page.has_older && oldest
        ? h("button", { type: "button", onclick: () => loadMessages(oldest) }, "Older messages")
        : null,
      before ? h("button", { type: "button", onclick: () => loadMessages() }, "Newest messages") : null);
  }

  async function loadHistory() {
    try {
      const page = await call("GET", "/api/v1/history", { query: { channel, limit: 20 } });
      replace(history,
        h("p", { class: "muted" }, `Position: offset ${page.offset}, epoch ${page.epoch}. The newest ${page.publications.length} events:`),
        table("Stream events", ["Offset", "Kind", "Data"], page.publications.map((publication) => [
          String(publication.offset), publication.kind, h("code", {}, JSON.stringify(publication.data)),
        ]), "The stream is empty."));
    } catch (error) {
      replace(history, h("p", { class: "muted" }, `No history: ${error.message}`));
    }
  }

  async function act(path, method = "POST") {
    const done = await attempt(context, () => call(method, path, method === "POST" ? { body: {} } : {}));
    if (done) loadMessages();
  }

  async function publish() {
    let value;
    try {
      value = JSON.parse(data.value);
    } catch (error) {
      replace(published, `Not JSON: ${error.message}`);
      return;
    }
    const position = await attempt(context, () => call("POST", "/api/v1/publish", { body: { channel, data: value } }));
    if (position) {
      replace(published, `Published at offset ${position.offset} (epoch ${position.epoch}).`);
      loadHistory();
    }
  }

  loadPresence();
  loadMessages();
  loadHistory();
  const timer = setInterval(loadPresence, 5000);
  context.onLeave(() => clearInterval(timer));
}
