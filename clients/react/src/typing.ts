/** Who is typing in a channel, and reporting one's own typing. */

import type { Typer, TypingResult } from "@parley/client";
import { useCallback, useState } from "react";

import { useParley } from "./context.js";
import { useLease } from "./channel.js";

/** What {@link useTyping} returns. */
export interface TypingView {
  /** Everyone typing now, the current user included when they are. */
  typers: Typer[];
  /**
   * Reports typing (call it on each keystroke: the SDK sends at most one
   * event per 2 seconds) or, with `false`, its end (on send or blur).
   */
  typing: (active?: boolean) => Promise<TypingResult>;
}

/** The typers of `channel` (pushed by the server, expiring on their own). */
export function useTyping(channel: string | null | undefined): TypingView {
  const parley = useParley();
  const [typers, setTypers] = useState<Typer[]>([]);
  useLease(
    channel,
    undefined,
    (subscription) => {
      setTypers([]);
      const off = subscription.on("typing", (users) => setTypers(users));
      return () => {
        off();
        setTypers([]);
      };
    },
    [],
  );
  const typing = useCallback(
    (active = true): Promise<TypingResult> =>
      channel === null || channel === undefined || channel === ""
        ? Promise.resolve({ throttled: true })
        : parley.typing(channel, active),
    [parley, channel],
  );
  return { typers, typing };
}
