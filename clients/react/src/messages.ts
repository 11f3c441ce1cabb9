/**
 * A chat channel's messages in a component: the newest page, kept current
 * by the channel's message events, older pages on demand, and send.
 */

import type { Message, ParleyError, SendOptions, SubscriptionOptions } from "@parley/client";
import { useCallback, useRef, useState } from "react";

import { useParley } from "./context.js";
import { useLease } from "./channel.js";

/** Options of {@link useMessages}. */
export interface MessagesOptions extends SubscriptionOptions {
  /** Messages per page, 1 to 100. Default 50. */
  limit?: number;
}

/** What {@link useMessages} returns. */
export interface MessagesView {
  /** Oldest first: the pages read so far and every message since. */
  messages: Message[];
  /** While the first page is read (again, after a gap the server could not replay). */
  loading: boolean;
  /** The last failure of a page read. */
  error: ParleyError | Error | undefined;
  /** Whether older messages than the first in `messages` exist. */
  hasOlder: boolean;
  /** Reads the page before the oldest message shown. */
  loadOlder: () => Promise<void>;
  /**
   * Sends a message; resolves with it once stored. It goes through the
   * SDK's outbox: sent while offline, it waits for the connection.
   */
  send: (text: string, options?: SendOptions) => Promise<Message>;
}

type Change = (messages: Message[]) => Message[];

/** `messages` with `message` in its place by offset (replacing the one with its id). */
function upsert(messages: Message[], message: Message): Message[] {
  const index = messages.findIndex((known) => known.id === message.id);
  if (index >= 0) return messages.with(index, message);
  const after = messages.findIndex((known) => known.offset > message.offset);
  return after < 0 ? [...messages, message] : [...messages.slice(0, after), message, ...messages.slice(after)];
}

/**
 * The messages of `channel` (a persisted namespace). The newest page is
 * read after the subscribe; created, edited and deleted messages are
 * applied as they come (a deleted one stays as its tombstone, `text: ""`
 * and `deleted_at`); after a reconnect the missed events are replayed,
 * or, when the server could not replay them, the newest page is read
 * again.
 */
export function useMessages(channel: string | null | undefined, options: MessagesOptions = {}): MessagesView {
  const parley = useParley();
  const limit = options.limit ?? 50;
  const [messages, setMessages] = useState<Message[]>([]);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<ParleyError | Error>();
  const [hasOlder, setHasOlder] = useState(false);
  const current = useRef<Message[]>([]);
  current.current = messages;

  useLease(
    channel,
    options,
    (subscription) => {
      let active = true;
      /** Live changes that came while a page was read, applied on top of it. */
      let pending: Change[] | undefined;
      const change = (apply: Change): void => {
        if (pending !== undefined) pending.push(apply);
        else setMessages(apply);
      };
      const readNewest = (): void => {
        pending = [];
        setLoading(true);
        parley.chat.messages(subscription.channel, { limit }).then(
          (page) => {
            if (!active) return;
            let list = [...page.messages].reverse();
            for (const apply of pending ?? []) list = apply(list);
            pending = undefined;
            setMessages(list);
            setHasOlder(page.has_older);
            setError(undefined);
            setLoading(false);
          },
          (failure: ParleyError | Error) => {
            if (!active) return;
            pending = undefined;
            setError(failure);
            setLoading(false);
          },
        );
      };
      setMessages([]);
      setHasOlder(false);
      if (subscription.state === "subscribed") readNewest();
      const offs = [
        subscription.on("subscribed", (event) => {
          // A fresh subscribe reads the page; a replay (`recovered: true`)
          // brings the missed events; a gap means reading it again.
          if (event.recovered !== true) readNewest();
        }),
        subscription.on("message_created", ({ data }) => change((list) => upsert(list, data))),
        subscription.on("message_updated", ({ data }) => change((list) => upsert(list, data))),
        subscription.on("message_deleted", ({ data }) => change((list) => upsert(list, data))),
      ];
      return () => {
        active = false;
        for (const off of offs) off();
        setMessages([]);
        setLoading(false);
      };
    },
    [limit],
  );

  const loadOlder = useCallback(async (): Promise<void> => {
    const oldest = current.current[0];
    if (channel === null || channel === undefined || channel === "" || oldest === undefined) return;
    try {
      const page = await parley.chat.messages(channel, { before: oldest.id, limit });
      setMessages((list) => page.messages.reduce((merged, message) => upsert(merged, message), list));
      setHasOlder(page.has_older);
    } catch (failure) {
      setError(failure as ParleyError | Error);
    }
  }, [parley, channel, limit]);

  const send = useCallback(
    (text: string, sendOptions?: SendOptions): Promise<Message> =>
      channel === null || channel === undefined || channel === ""
        ? Promise.reject(new Error("useMessages: no channel to send to"))
        : parley.chat.send(channel, text, sendOptions),
    [parley, channel],
  );

  return { messages, loading, error, hasOlder, loadOlder, send };
}
