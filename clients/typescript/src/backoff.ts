/**
 * Exponential back-off with full jitter: attempt n waits a random time
 * between half of `min * 2^n` and all of it, capped at `max`. The jitter
 * spreads the reconnects of many clients after a deploy or a network
 * outage, so they do not all arrive in the same instant.
 */

/** The back-off's bounds, in milliseconds. */
export interface BackoffOptions {
  /** The first delay's upper bound. Default 500. */
  minDelayMs?: number;
  /** No delay is longer. Default 20000. */
  maxDelayMs?: number;
}

export class Backoff {
  readonly #min: number;
  readonly #max: number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.#min = Math.max(1, options.minDelayMs ?? 500);
    this.#max = Math.max(this.#min, options.maxDelayMs ?? 20_000);
  }

  /** The delay before the next attempt; each call makes the next one longer. */
  next(): number {
    const delay = jitteredDelay(this.#attempt, this.#min, this.#max);
    this.#attempt += 1;
    return delay;
  }

  /** Starts over after a success. */
  reset(): void {
    this.#attempt = 0;
  }
}

/** The delay of attempt `attempt` (from 0): between half of `min * 2^attempt` (capped at `max`) and all of it. */
export function jitteredDelay(attempt: number, min: number, max: number): number {
  const ceiling = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}
