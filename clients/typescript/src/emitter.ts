/**
 * A small typed event emitter: `on`, `once`, `off`. A listener that throws
 * does not stop the others; its error goes to `reportError` (or the
 * console), so one faulty handler cannot break the connection's bookkeeping.
 */

/** A map from event name to the listener's argument. */
export type EventMap = object;

/** A listener of event `K`. */
export type Listener<Events extends EventMap, K extends keyof Events> = (event: Events[K]) => void;

export class Emitter<Events extends EventMap> {
  readonly #listeners = new Map<keyof Events, Set<(event: never) => void>>();

  /** Calls `listener` on every `event`; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events, K>): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as (event: never) => void);
    return () => this.off(event, listener);
  }

  /** Calls `listener` on the next `event` only. */
  once<K extends keyof Events>(event: K, listener: Listener<Events, K>): () => void {
    const off = this.on(event, (value) => {
      off();
      listener(value);
    });
    return off;
  }

  /** Removes `listener`, or every listener of `event` without one. */
  off<K extends keyof Events>(event: K, listener?: Listener<Events, K>): void {
    if (listener === undefined) {
      this.#listeners.delete(event);
      return;
    }
    this.#listeners.get(event)?.delete(listener as (event: never) => void);
  }

  /** Calls the listeners of `event` with `value`. */
  protected emit<K extends keyof Events>(event: K, value: Events[K]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events, K>)(value);
      } catch (error) {
        reportListenerError(error);
      }
    }
  }
}

function reportListenerError(error: unknown): void {
  const global = globalThis as { reportError?: (error: unknown) => void };
  if (typeof global.reportError === "function") {
    global.reportError(error);
  } else {
    console.error("a Parley event listener threw:", error);
  }
}
