/** The latest publications of a channel, as a list that grows live. */

import type { Json, Publication, SubscriptionOptions } from "@parley/client";
import { useState } from "react";

import { useLease } from "./channel.js";

/** Options of {@link usePublications}. */
export interface PublicationsOptions extends SubscriptionOptions {
  /** How many of the latest publications to keep. Default 100. */
  limit?: number;
}

/**
 * The channel's publications since the component subscribed, oldest first,
 * at most `limit` (the latest). Publications replayed after a reconnect
 * join the list in order, each offset once; the list starts empty on a
 * new channel. Load older ones with `parley.history`.
 */
export function usePublications<T = Json>(
  channel: string | null | undefined,
  options: PublicationsOptions = {},
): Publication<T>[] {
  const limit = options.limit ?? 100;
  const [publications, setPublications] = useState<Publication<T>[]>([]);
  useLease<T>(
    channel,
    options,
    (subscription) => {
      setPublications([]);
      return subscription.on("publication", (publication) => {
        setPublications((previous) => [...previous, publication].slice(-limit));
      });
    },
    [limit],
  );
  return publications;
}
