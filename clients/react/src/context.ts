/**
 * The client the hooks use: one `Parley`, handed down by `ParleyProvider`.
 */

import type { Parley } from "@parley/client";
import { createContext, createElement, useContext, type ReactNode } from "react";

const ParleyContext = createContext<Parley | null>(null);

/** The props of {@link ParleyProvider}. */
export interface ParleyProviderProps {
  /** The client every hook below uses. */
  client: Parley;
  children?: ReactNode;
}

/**
 * Makes `client` the Parley of every hook below it. The provider neither
 * connects nor disconnects the client: the application owns its life
 * (`client.connect()` once, `client.disconnect()` at sign-out).
 */
export function ParleyProvider({ client, children }: ParleyProviderProps): ReactNode {
  return createElement(ParleyContext.Provider, { value: client }, children);
}

/** The client of the nearest {@link ParleyProvider}; throws without one. */
export function useParley(): Parley {
  const parley = useContext(ParleyContext);
  if (parley === null) {
    throw new Error("a Parley hook is used outside <ParleyProvider client={…}>");
  }
  return parley;
}
