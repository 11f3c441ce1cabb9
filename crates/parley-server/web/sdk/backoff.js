/**
 * Exponential back-off with full jitter: attempt n waits a random time
 * between half of `min * 2^n` and all of it, capped at `max`. The jitter
 * spreads the reconnects of many clients after a deploy or a network
 * outage, so they do not all arrive in the same instant.
 */
export class Backoff {
    #min;
    #max;
    #attempt = 0;
    constructor(options = {}) {
        this.#min = Math.max(1, options.minDelayMs ?? 500);
        this.#max = Math.max(this.#min, options.maxDelayMs ?? 20_000);
    }
    /** The delay before the next attempt; each call makes the next one longer. */
    next() {
        const delay = jitteredDelay(this.#attempt, this.#min, this.#max);
        this.#attempt += 1;
        return delay;
    }
    /** Starts over after a success. */
    reset() {
        this.#attempt = 0;
    }
}
/** The delay of attempt `attempt` (from 0): between half of `min * 2^attempt` (capped at `max`) and all of it. */
export function jitteredDelay(attempt, min, max) {
    const ceiling = Math.min(max, min * 2 ** Math.min(attempt, 30));
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}
