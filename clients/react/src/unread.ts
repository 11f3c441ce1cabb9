/** The user's unread counts, kept fresh. */

import type { Subscription, UnreadCounts } from "@parley/client";
import { useCallback, useEffect, useRef, useState } from "react";

import { useParley } from "./context.js";
import { acquire, release } from "./leases.js";

/** Options of {@link useUnread}. */
export interface UnreadOptions {
  /**
   * Channels whose new messages and read markers should refresh the counts
   * at once (the ones the page shows); they are subscribed while mounted.
   */
  channels?: string[];
  /** Read the counts again this often while connected, in ms. Default 30000; 0 never. */
  refreshMs?: number;
}

/** What {@link useUnread} returns. */
export interface UnreadView {
  /** Unread messages in total, across the user's rooms and read channels. */
  unread: number;
  /** Unread messages that mention the user. */
  mentions: number;
  /** The counts per channel with unread messages. */
  channels: UnreadCounts["channels"];
  /** The unread count of one channel (0 when it has none). */
  of: (channel: string) => number;
  /** Reads the counts now. */
  refresh: () => void;
}

const EMPTY: UnreadCounts = { channels: [], unread: 0, mentions: 0 };

/**
 * The user's unread counts (`unread`), read when connected (again after
 * each reconnect), whenever a message or a read marker arrives in one of
 * `channels`, and every `refreshMs`.
 */
export function useUnread(options: UnreadOptions = {}): UnreadView {
  const parley = useParley();
  const [counts, setCounts] = useState<UnreadCounts>(EMPTY);
  // One read at a time: a burst of messages costs one read now and one
  // after it, not one per message.
  const reading = useRef<{ inFlight: boolean; again: boolean }>({ inFlight: false, again: false });
  const refresh = useCallback((): void => {
    const state = reading.current;
    if (parley.state !== "connected") return;
    if (state.inFlight) {
      state.again = true;
      return;
    }
    state.inFlight = true;
    state.again = false;
    const done = (): void => {
      state.inFlight = false;
      if (state.again) refresh();
    };
    parley.chat.unread().then(
      (fresh) => {
        setCounts(fresh);
        done();
      },
      done,
    );
  }, [parley]);

  const refreshMs = options.refreshMs ?? 30_000;
  useEffect(() => {
    refresh();
    const offConnected = parley.on("connected", () => refresh());
    const timer = refreshMs > 0 ? setInterval(refresh, refreshMs) : undefined;
    return () => {
      offConnected();
      clearInterval(timer);
    };
  }, [parley, refresh, refreshMs]);

  useChannelsRefresh(options.channels ?? [], refresh);

  const of = useCallback(
    (channel: string): number => counts.channels.find((entry) => entry.channel === channel)?.unread ?? 0,
    [counts],
  );
  return { unread: counts.unread, mentions: counts.mentions, channels: counts.channels, of, refresh };
}

/** Refreshes on each message or read marker of `channels`, holding a lease on each while mounted. */
function useChannelsRefresh(channels: string[], refresh: () => void): void {
  const parley = useParley();
  const key = channels.join("\n");
  useEffect(() => {
    const names = key === "" ? [] : key.split("\n");
    const held = names.map((channel) => {
      const subscription = acquire<unknown>(parley, channel, {});
      const offs = [subscription.on("message_created", refresh), subscription.on("read_updated", refresh)];
      return { channel, subscription, offs };
    });
    return () => {
      for (const { channel, subscription, offs } of held) {
        for (const off of offs) off();
        release(parley, channel, subscription as Subscription<never>);
      }
    };
  }, [parley, key, refresh]);
}
