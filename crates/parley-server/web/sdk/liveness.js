/**
 * The client's side of liveness: when nothing came from the server for a
 * ping interval, send a `ping`; when that gets no answer within the pong
 * timeout, the server (or the network to it) is gone. Browsers cannot see
 * the server's WebSocket pings, so silence alone proves nothing.
 */
export class Liveness {
    #lastReceived = 0;
    #timer;
    /** Notes that a frame arrived. */
    received() {
        this.#lastReceived = Date.now();
    }
    /**
     * Checks every `intervalMs`; `ping` sends a ping that rejects when it
     * times out, and `dead` is called then.
     */
    start(intervalMs, ping, dead) {
        this.stop();
        if (!(intervalMs > 0))
            return;
        this.received();
        this.#timer = setInterval(() => {
            if (Date.now() - this.#lastReceived < intervalMs)
                return;
            ping().catch(dead);
        }, intervalMs);
    }
    stop() {
        clearInterval(this.#timer);
        this.#timer = undefined;
    }
}
