/** A presence channel's members, kept current. */

import type { Member, SubscriptionOptions } from "@parley/client";
import { useState } from "react";

import { useLease } from "./channel.js";

/**
 * The members of `channel` (a namespace with presence): the whole list
 * read after each subscribe, then kept current by joins, leaves and state
 * updates (`Subscription.trackMembers`). One entry per user, whatever
 * their number of connections.
 */
export function useMembers(channel: string | null | undefined, options?: SubscriptionOptions): Member[] {
  const [members, setMembers] = useState<Member[]>([]);
  useLease(
    channel,
    options,
    (subscription) => {
      subscription.trackMembers();
      setMembers([...subscription.members.values()]);
      const offs = [
        subscription.on("members", (current) => setMembers([...current.values()])),
        subscription.on("unsubscribed", () => setMembers([])),
      ];
      return () => {
        for (const off of offs) off();
        setMembers([]);
      };
    },
    [],
  );
  return members;
}
