/**
 * A small typed event emitter: `on`, `once`, `off`. A listener that throws
 * does not stop the others; its error goes to `reportError` (or the
 * console), so one faulty handler cannot break the connection's bookkeeping.
 */
export class Emitter {
    #listeners = new Map();
    /** Calls `listener` on every `event`; returns a function that removes it. */
    on(event, listener) {
        let set = this.#listeners.get(event);
        if (set === undefined) {
            set = new Set();
            this.#listeners.set(event, set);
        }
        set.add(listener);
        return () => this.off(event, listener);
    }
    /** Calls `listener` on the next `event` only. */
    once(event, listener) {
        const off = this.on(event, (value) => {
            off();
            listener(value);
        });
        return off;
    }
    /** Removes `listener`, or every listener of `event` without one. */
    off(event, listener) {
        if (listener === undefined) {
            this.#listeners.delete(event);
            return;
        }
        this.#listeners.get(event)?.delete(listener);
    }
    /** Calls the listeners of `event` with `value`. */
    emit(event, value) {
        const set = this.#listeners.get(event);
        if (set === undefined)
            return;
        for (const listener of [...set]) {
            try {
                listener(value);
            }
            catch (error) {
                reportListenerError(error);
            }
        }
    }
}
function reportListenerError(error) {
    const global = globalThis;
    if (typeof global.reportError === "function") {
        global.reportError(error);
    }
    else {
        console.error("a Parley event listener threw:", error);
    }
}
