/**
 * A channel in a component: `useChannel` subscribes while the component is
 * mounted (shared with every other component on the same channel) and
 * re-renders with the subscription's state; `useChannelEvent` calls a
 * handler on one of its events.
 */

import type {
  Json,
  ParleyError,
  StreamPosition,
  Subscription,
  SubscriptionEvents,
  SubscriptionOptions,
  SubscriptionState,
} from "@parley/client";
import { useCallback, useEffect, useRef, useState } from "react";

import { useParley } from "./context.js";
import { acquire, release } from "./leases.js";

/**
 * Holds a lease on `channel` while mounted and runs `attach` on its
 * subscription in the same effect, so no event between the subscribe and
 * the listeners is missed; `attach`'s cleanup runs before the lease is
 * given back. No channel (`null`, `undefined`, `""`) holds nothing.
 * `options` are read when the subscription is made.
 */
export function useLease<T>(
  channel: string | null | undefined,
  options: SubscriptionOptions | undefined,
  attach: (subscription: Subscription<T>) => (() => void) | void,
  deps: readonly unknown[],
): void {
  const parley = useParley();
  const latestOptions = useRef(options);
  latestOptions.current = options;
  useEffect(() => {
    if (channel === null || channel === undefined || channel === "") return undefined;
    const subscription = acquire<T>(parley, channel, latestOptions.current ?? {});
    const detach = attach(subscription);
    return () => {
      detach?.();
      release(parley, channel, subscription as Subscription<never>);
    };
  }, [parley, channel, ...deps]);
}

/** What {@link useChannel} returns. */
export interface ChannelView<T> {
  /** The subscription; `undefined` before the first effect and without a channel. */
  subscription: Subscription<T> | undefined;
  /** `subscribing`, `subscribed` or `unsubscribed` (also without a channel). */
  state: SubscriptionState;
  /**
   * After a subscribe again: whether what was missed was replayed
   * (`false`: reload the channel's state); `undefined` for a fresh one.
   */
  recovered: boolean | undefined;
  /** The last refusal or failure of a subscribe. */
  error: ParleyError | undefined;
  /** Publishes to the channel; rejects without one. */
  publish: (data: T) => Promise<StreamPosition>;
}

/**
 * Subscribes to `channel` while the component is mounted. `T` types the
 * channel's publication data. Re-renders when the subscription's state
 * changes, not on each event: use {@link useChannelEvent},
 * `usePublications` or the other hooks for those.
 */
export function useChannel<T = Json>(channel: string | null | undefined, options?: SubscriptionOptions): ChannelView<T> {
  const [subscription, setSubscription] = useState<Subscription<T>>();
  const [state, setState] = useState<SubscriptionState>("unsubscribed");
  const [recovered, setRecovered] = useState<boolean>();
  const [error, setError] = useState<ParleyError>();
  useLease<T>(
    channel,
    options,
    (subscription) => {
      setSubscription(subscription);
      setState(subscription.state);
      setError(undefined);
      const offs = [
        subscription.on("subscribed", (event) => {
          setState("subscribed");
          setRecovered(event.recovered);
        }),
        subscription.on("subscribing", () => setState("subscribing")),
        subscription.on("unsubscribed", () => setState("unsubscribed")),
        subscription.on("error", (failure) => setError(failure)),
      ];
      return () => {
        for (const off of offs) off();
        setSubscription(undefined);
        setState("unsubscribed");
        setRecovered(undefined);
      };
    },
    [],
  );
  const publish = useCallback(
    (data: T): Promise<StreamPosition> =>
      subscription === undefined
        ? Promise.reject(new Error(`not subscribed to ${channel ?? "a channel"}`))
        : subscription.publish(data),
    [subscription, channel],
  );
  return { subscription, state, recovered, error, publish };
}

/**
 * Calls `handler` on every `event` of `subscription` (from
 * {@link useChannel}); the latest `handler` is called, so it may close
 * over the component's state without re-subscribing.
 */
export function useChannelEvent<T, K extends keyof SubscriptionEvents<T>>(
  subscription: Subscription<T> | undefined,
  event: K,
  handler: (value: SubscriptionEvents<T>[K]) => void,
): void {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    if (subscription === undefined) return undefined;
    return subscription.on(event, (value) => latest.current(value));
  }, [subscription, event]);
}
