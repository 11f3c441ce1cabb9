/**
 * Subscriptions shared by the components that use one channel. Each hook
 * that needs a channel takes a lease; the subscription is made with the
 * first lease and ended when the last one is given back. The end waits
 * for the current task to finish, so a component that unmounts and mounts
 * again at once (React's StrictMode, a re-keyed list) keeps its
 * subscription instead of unsubscribing and subscribing again.
 *
 * A subscription the application made itself (`parley.subscribe`) before
 * a hook asked for it is used but never ended by the hooks.
 */

import type { Parley, Subscription, SubscriptionOptions } from "@parley/client";

interface Lease {
  readonly subscription: Subscription<unknown>;
  /** The application's own: never unsubscribed here. */
  readonly external: boolean;
  holders: number;
  ending: ReturnType<typeof setTimeout> | undefined;
}

const byClient = new WeakMap<Parley, Map<string, Lease>>();

/** The subscription to `channel`, made with `options` if it is new; hold it until {@link release}. */
export function acquire<T>(parley: Parley, channel: string, options: SubscriptionOptions): Subscription<T> {
  let leases = byClient.get(parley);
  if (leases === undefined) {
    leases = new Map();
    byClient.set(parley, leases);
  }
  let lease = leases.get(channel);
  if (lease === undefined || lease.subscription.state === "unsubscribed") {
    const existing = parley.getSubscription(channel);
    lease = {
      subscription: existing ?? parley.subscribe<unknown>(channel, options),
      external: existing !== undefined,
      holders: 0,
      ending: undefined,
    };
    leases.set(channel, lease);
  }
  clearTimeout(lease.ending);
  lease.ending = undefined;
  lease.holders += 1;
  return lease.subscription as Subscription<T>;
}

/** Gives back a lease taken by {@link acquire}. */
export function release(parley: Parley, channel: string, subscription: Subscription<never>): void {
  const leases = byClient.get(parley);
  const lease = leases?.get(channel);
  if (leases === undefined || lease === undefined || lease.subscription !== subscription) return;
  lease.holders -= 1;
  if (lease.holders > 0 || lease.external) return;
  lease.ending = setTimeout(() => {
    if (lease.holders > 0 || leases.get(channel) !== lease) return;
    leases.delete(channel);
    lease.subscription.unsubscribe().catch(() => undefined);
  }, 0);
}
