/** The client's connection state in a component. */

import type { ConnectionState } from "@parley/client";
import { useCallback, useSyncExternalStore } from "react";

import { useParley } from "./context.js";

/** `disconnected`, `connecting` or `connected`; re-renders on each change. */
export function useConnectionState(): ConnectionState {
  const parley = useParley();
  const subscribe = useCallback((changed: () => void) => parley.on("state", changed), [parley]);
  const snapshot = (): ConnectionState => parley.state;
  return useSyncExternalStore(subscribe, snapshot, snapshot);
}
