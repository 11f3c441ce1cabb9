/**
 * Chat in persisted namespaces: messages (send, edit, delete, pages),
 * reactions, threads, search, pins and read markers. `parley.chat`.
 */

import type {
  Message,
  MessagesPage,
  Pin,
  ReactionCounts,
  ReactionResult,
  ReadMarkResult,
  Revision,
  SearchPage,
  ThreadPage,
  UnreadCounts,
} from "./protocol.js";
import { defined, type Caller, type MessagesOptions, type SendOptions } from "./requests.js";
import { sendParams } from "./subscription.js";

/** What a reaction is about: a message, or a channel itself. */
export type ReactionTarget = { message: string; channel?: string } | { channel: string; message?: undefined };

export class Chat {
  readonly #call: Caller;

  /** Made by the client; use `parley.chat`. */
  constructor(call: Caller) {
    this.#call = call;
  }

  /**
   * Sends a message. The reply comes once it is stored. Without
   * `clientMsgId` the SDK picks one, so the message can be resent safely.
   */
  send(channel: string, text: string, options: SendOptions = {}): Promise<Message> {
    return this.#call("message_send", sendParams(channel, text, options));
  }

  /** Replaces the text of one of the user's messages. */
  edit(id: string, text: string): Promise<Message> {
    return this.#call("message_edit", { id, text });
  }

  /** Deletes a message (leaving a tombstone; `hard` for moderators removes it). */
  delete(id: string, options: { hard?: boolean } = {}): Promise<Message> {
    return this.#call("message_delete", defined({ id, hard: options.hard }));
  }

  /** A page of the channel's messages, newest first by default. */
  messages(channel: string, options: MessagesOptions = {}): Promise<MessagesPage> {
    return this.#call("messages", defined({ channel, ...options }));
  }

  /**
   * Every page of the channel's messages, from the newest back to the
   * oldest: `for await (const page of parley.chat.pages("talk:1")) ...`.
   */
  async *pages(channel: string, options: { limit?: number } = {}): AsyncGenerator<MessagesPage, void, undefined> {
    let before: string | undefined;
    for (;;) {
      const page = await this.messages(channel, { before, limit: options.limit, order: "newest_first" });
      yield page;
      const oldest = page.messages[page.messages.length - 1];
      if (!page.has_older || oldest === undefined) return;
      before = oldest.id;
    }
  }

  /** The texts a message had before its edits (moderators). */
  async editTrail(id: string): Promise<Revision[]> {
    const result = await this.#call<{ revisions: Revision[] }>("edit_trail", { id });
    return result.revisions;
  }

  /** Adds the user's reaction to a message or to a channel. */
  react(target: ReactionTarget, emoji: string): Promise<ReactionResult> {
    return this.#call("reaction_add", reactionParams(target, emoji));
  }

  /** Takes the user's reaction back. */
  unreact(target: ReactionTarget, emoji: string): Promise<ReactionResult> {
    return this.#call("reaction_remove", reactionParams(target, emoji));
  }

  /** The reactions to a channel itself, per emoji. */
  async reactions(channel: string): Promise<ReactionCounts> {
    const result = await this.#call<{ channel: string; reactions: ReactionCounts }>("reactions", { channel });
    return result.reactions;
  }

  /** A page of the replies to a message, oldest first. */
  thread(messageId: string, options: { before?: string; limit?: number } = {}): Promise<ThreadPage> {
    return this.#call("thread", defined({ message_id: messageId, ...options }));
  }

  /** Full-text search, newest first: in one channel, or in all of the user's rooms. */
  search(query: string, options: { channel?: string; before?: string; limit?: number } = {}): Promise<SearchPage> {
    return this.#call("search", defined({ query, ...options }));
  }

  /** Pins a message of the channel. */
  pin(channel: string, messageId: string): Promise<Pin> {
    return this.#call("message_pin", { channel, message_id: messageId });
  }

  /** Unpins a message of the channel. */
  unpin(channel: string, messageId: string): Promise<Pin> {
    return this.#call("message_unpin", { channel, message_id: messageId });
  }

  /** The channel's pinned messages, most recently pinned first. */
  async pins(channel: string): Promise<Pin[]> {
    const result = await this.#call<{ pins: Pin[] }>("pins", { channel });
    return result.pins;
  }

  /** Marks the message, and everything before it, read. */
  readMark(channel: string, messageId: string): Promise<ReadMarkResult> {
    return this.#call("read_mark", { channel, message_id: messageId });
  }

  /** Marks the message, and everything after it, unread again. */
  markUnread(channel: string, messageId: string): Promise<ReadMarkResult> {
    return this.#call("mark_unread", { channel, message_id: messageId });
  }

  /** The user's unread counts, per channel and in total. */
  unread(): Promise<UnreadCounts> {
    return this.#call("unread", {});
  }
}

function reactionParams(target: ReactionTarget, emoji: string): Record<string, unknown> {
  return defined({ message_id: target.message, channel: target.channel, emoji });
}
