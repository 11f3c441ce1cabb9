// One chat room as the demo sees it: the subscription to `demo:<room>`,
// the messages known so far (by id, in channel order), reactions, read
// receipts, who is here and who is typing, and the state of the connection
// with how many missed messages a reconnect recovered. It holds no DOM:
// `onChange` tells the view what to draw again.

import { ParleyError } from "/sdk/index.js";

const PAGE_SIZE = 30;

export class Room {
  /**
   * @param {import("/sdk/index.js").Parley} parley a client, not yet connected
   * @param {string} channel the channel, `demo:<room>`
   * @param {(what: string) => void} onChange called with "messages",
   *   "people", "typing", "status" or "receipts" after that part changed
   */
  constructor(parley, channel, onChange) {
    this.parley = parley;
    this.channel = channel;
    this.onChange = onChange;
    /** @type {Map<string, any>} messages by id */
    this.messages = new Map();
    /** @type {Map<string, {name?: string}>} present users by id */
    this.people = new Map();
    /** @type {{user: string, name?: string}[]} */
    this.typers = [];
    /** @type {Map<string, number>} each user's read offset */
    this.reads = new Map();
    this.hasOlder = false;
    this.loadingOlder = false;
    /** What the banner says: { kind: "ok" | "warn" | "bad", text }. */
    this.status = { kind: "warn", text: "Connecting…" };
    /** Set when the room ended for good (a ban, a refusal). */
    this.ended = null;
    this.me = "";
    this.recovery = null;
    this.subscription = parley.subscribe(channel);
    this.#listen();
  }

  #listen() {
    const sub = this.subscription;
    const parley = this.parley;
    parley.on("connected", (session) => {
      this.me = session.user;
    });
    parley.on("connecting", () => {
      if (this.ended) return;
      this.#setStatus("warn", this.me ? "Reconnecting…" : "Connecting…");
    });
    parley.on("disconnected", ({ reconnect, reason, code }) => {
      if (reconnect) return;
      this.#end(`Disconnected by the server (${code}${reason ? `: ${reason}` : ""}). Reload the page to join again.`);
    });
    sub.on("subscribing", () => {
      if (this.ended) return;
      this.recovery = { from: sub.position?.offset ?? 0, to: null, count: 0 };
      this.#setStatus("warn", "Reconnecting…");
    });
    sub.on("subscribed", (event) => this.#subscribed(event));
    sub.on("unsubscribed", ({ reason, code }) => {
      const why = reason === "banned" ? "You were banned from this room." : `You left this room: ${reason}${code ? ` (${code})` : ""}.`;
      this.#end(why);
    });
    sub.on("event", (event) => this.#event(event));
    sub.on("join", (member) => {
      this.people.set(member.user, { name: member.name });
      this.onChange("people");
    });
    sub.on("leave", ({ user }) => {
      this.people.delete(user);
      this.onChange("people");
    });
    sub.on("typing", (typers) => {
      this.typers = typers.filter((typer) => typer.user !== this.me);
      this.onChange("typing");
    });
  }

  async #subscribed(event) {
    if (event.resubscribed && event.recovered === true && this.recovery) {
      this.recovery.to = event.offset;
      this.#reportRecovery();
    } else if (event.resubscribed && event.recovered === false) {
      this.recovery = null;
      this.#setStatus("ok", "Reconnected. Some missed messages could not be replayed: reloaded the latest ones.");
      this.messages.clear();
      await this.#loadLatest();
    } else {
      this.recovery = null;
      this.#setStatus("ok", "Connected");
      await this.#loadLatest();
    }
    await this.#loadPeople();
  }

  /** Counts a replayed message toward "recovered N missed messages". */
  #reportRecovery() {
    const recovery = this.recovery;
    if (!recovery || recovery.to === null) return;
    const n = recovery.count;
    const text = n === 0
      ? "Reconnected. Nothing was missed."
      : `Reconnected. Recovered ${n} missed message${n === 1 ? "" : "s"}.`;
    this.#setStatus("ok", text);
  }

  async #loadLatest() {
    try {
      const page = await this.parley.chat.messages(this.channel, { limit: PAGE_SIZE });
      for (const message of page.messages) this.#keep(message, { fromPage: true });
      this.hasOlder = page.has_older;
      this.onChange("messages");
      this.markRead();
    } catch (error) {
      this.#setStatus("bad", `Cannot load messages: ${describe(error)}`);
    }
  }

  /** Loads the page of messages before the oldest one shown. */
  async loadOlder() {
    if (this.loadingOlder || !this.hasOlder) return;
    const oldest = this.ordered()[0];
    if (!oldest) return;
    this.loadingOlder = true;
    try {
      const page = await this.parley.chat.messages(this.channel, { before: oldest.id, limit: PAGE_SIZE });
      for (const message of page.messages) this.#keep(message, { fromPage: true });
      this.hasOlder = page.has_older;
      this.onChange("older");
    } catch (error) {
      this.#setStatus("bad", `Cannot load older messages: ${describe(error)}`);
    } finally {
      this.loadingOlder = false;
    }
  }

  async #loadPeople() {
    try {
      const page = await this.subscription.presence({ limit: 100 });
      this.people = new Map(page.members.map((member) => [member.user, { name: member.name }]));
      this.onChange("people");
    } catch (error) {
      this.#setStatus("bad", `Cannot list who is here: ${describe(error)}`);
    }
  }

  /** A stream event, live or replayed, in offset order. */
  #event({ kind, data, offset }) {
    switch (kind) {
      case "message_created":
        this.#keep(data);
        if (this.recovery && (this.recovery.to === null || offset <= this.recovery.to) && offset > this.recovery.from) {
          this.recovery.count += 1;
          this.#reportRecovery();
        }
        this.onChange("messages");
        this.markRead();
        break;
      case "message_updated":
      case "message_deleted":
        this.#keep(data);
        this.onChange("messages");
        break;
      case "reaction_added":
      case "reaction_removed":
        this.#react(kind === "reaction_added", data);
        break;
      case "read_updated":
        this.reads.set(data.user, data.last_read_offset);
        this.onChange("receipts");
        break;
      default:
        break;
    }
  }

  /** Keeps a message, merging what a page knows (reactions) with pushes. */
  #keep(message, { fromPage = false } = {}) {
    const known = this.messages.get(message.id);
    const reactions = fromPage ? (message.reactions ?? {}) : (known?.reactions ?? {});
    this.messages.set(message.id, { ...message, reactions });
  }

  #react(added, { message_id: id, user, emoji, count }) {
    const message = id && this.messages.get(id);
    if (!message) return;
    const reactions = { ...message.reactions };
    const me = user === this.me ? added : (reactions[emoji]?.me ?? false);
    if (count > 0) reactions[emoji] = { count, me };
    else delete reactions[emoji];
    this.messages.set(id, { ...message, reactions });
    this.onChange("messages");
  }

  /** The messages in channel order, oldest first. */
  ordered() {
    return [...this.messages.values()].sort((a, b) => a.offset - b.offset);
  }

  /** Marks the newest message read while the page is visible. */
  markRead() {
    if (document.visibilityState !== "visible") return;
    const newest = this.ordered().at(-1);
    if (!newest || newest.offset <= (this.reads.get(this.me) ?? 0)) return;
    this.reads.set(this.me, newest.offset);
    // Sending a message moves the author's own marker on the server.
    if (newest.author === this.me) return;
    this.parley.chat.readMark(this.channel, newest.id).catch(() => {
      // A failed read marker costs only an unread count; the next message retries.
    });
  }

  /** Messages after the reader's marker: the unread count. */
  unread() {
    const read = this.reads.get(this.me) ?? 0;
    return this.ordered().filter((message) => message.offset > read && message.author !== this.me && !message.deleted_at).length;
  }

  send(text, replyTo) {
    return this.parley.chat.send(this.channel, text, { replyTo });
  }

  edit(id, text) {
    return this.parley.chat.edit(id, text);
  }

  remove(id) {
    return this.parley.chat.delete(id);
  }

  toggleReaction(id, emoji) {
    const mine = this.messages.get(id)?.reactions?.[emoji]?.me;
    return mine
      ? this.parley.chat.unreact({ message: id }, emoji)
      : this.parley.chat.react({ message: id }, emoji);
  }

  report(id, reason) {
    return this.parley.moderation.report(id, reason);
  }

  typing(active) {
    if (this.ended || this.subscription.state !== "subscribed") return;
    this.subscription.typing(active).catch(() => {
      // Typing is best effort: a lost indicator is not worth a message.
    });
  }

  #setStatus(kind, text) {
    this.status = { kind, text };
    this.onChange("status");
  }

  #end(text) {
    if (this.ended) return;
    this.ended = text;
    this.#setStatus("bad", text);
  }
}

/** A readable line for a failed request: the code and the server's message. */
export function describe(error) {
  if (error instanceof ParleyError) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}
