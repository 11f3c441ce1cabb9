/**
 * The options of the SDK's requests, where they differ from a bare channel
 * name: paging cursors and limits, and the optional parts of a message.
 * Single-word options keep their wire names; the others are camelCase and
 * mapped to the protocol's snake_case when the request is sent.
 */

import type { JsonObject } from "./protocol.js";

/** A page of members: start after `cursor` (the previous page's `next`). */
export interface PresenceOptions {
  cursor?: string;
  /** 1 to 1000 (the server's default is 1000). */
  limit?: number;
}

/** A page of a channel's stream, by offset. Give at most one of `before` and `after`. */
export interface HistoryOptions {
  /** The publications just before this offset. */
  before?: number;
  /** The publications just after this offset. */
  after?: number;
  /** 1 to 100 (the server's default is 50). */
  limit?: number;
  /** Also answer the channel's message count, `total` (persisted namespaces only). */
  total?: boolean;
}

/** A page of messages. Give at most one of `before`, `after` and `around` (message ids). */
export interface MessagesOptions {
  before?: string;
  after?: string;
  around?: string;
  order?: "newest_first" | "oldest_first";
  /** 1 to 100 (the server's default is 50). */
  limit?: number;
  /** Also answer `total`, the channel's messages that every reader sees. */
  total?: boolean;
}

/** The optional parts of a chat message. */
export interface SendOptions {
  /** The id of the message this one answers (starts or continues a thread). */
  replyTo?: string;
  /** Ids of the sender's own uploads, at most 10. */
  attachments?: string[];
  /**
   * The idempotency key. The SDK generates one when it is not given, so a
   * send whose reply was lost can be repeated with the same key safely.
   */
  clientMsgId?: string;
  meta?: JsonObject;
  /** The user ids the message mentions. */
  mentions?: string[];
}

/** The result of `typing`. */
export interface TypingResult {
  /** Whether the event was dropped because one was sent within 2 seconds. */
  throttled: boolean;
}

/** Drops `undefined` fields, so that optional params are absent on the wire. */
export function defined(params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** Sends one command and resolves with its result. */
export type Caller = <T>(method: string, params?: object) => Promise<T>;
