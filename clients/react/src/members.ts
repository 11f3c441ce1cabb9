/** A presence channel's members, kept current. */

import type { Member, SubscriptionOptions } from "@parley/client";
import { useState } from "react";

import { useLease } from "./channel.js";
import { useParley } from "./context.js";

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

/** What {@link usePresence} returns. */
export interface PresenceView {
  /** The members, one per user. */
  members: Member[];
  /** The connected user's own entry, once listed. */
  me: Member | undefined;
  /** How many members there are. */
  count: number;
}

/**
 * The presence of `channel` as a component shows it: the members (as
 * {@link useMembers} keeps them), the user's own entry and the count.
 */
export function usePresence(channel: string | null | undefined, options?: SubscriptionOptions): PresenceView {
  const parley = useParley();
  const members = useMembers(channel, options);
  const user = parley.session?.user;
  return {
    members,
    me: user === undefined ? undefined : members.find((member) => member.user === user),
    count: members.length,
  };
}
