/**
 * The client's side of liveness: when nothing came from the server for a
 * ping interval, send a `ping`; when that gets no answer within the pong
 * timeout, the server (or the network to it) is gone. Browsers cannot see
 * the server's WebSocket pings, so silence alone proves nothing.
 */

export class Liveness {
  #lastReceived = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Notes that a frame arrived. */
  received(): void {
    this.#lastReceived = Date.now();
  }

  /**
   * Checks every `intervalMs`; `ping` sends a ping that rejects when it
   * times out, and `dead` is called then.
   */
  start(intervalMs: number, ping: () => Promise<unknown>, dead: (error: unknown) => void): void {
    this.stop();
    if (!(intervalMs > 0)) return;
    this.received();
    this.#timer = setInterval(() => {
      if (Date.now() - this.#lastReceived < intervalMs) return;
      ping().catch(dead);
    }, intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
