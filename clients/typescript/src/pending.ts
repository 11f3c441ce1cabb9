/**
 * The requests waiting for their replies: those sent (by id) and those
 * queued while the client connects. Each has a timer; a reply, a timeout
 * or the end of the connection settles it exactly once.
 *
 * A request made `durable` (a chat message, which the server takes once
 * per `client_msg_id`) is the outbox: its timer runs only while it is on
 * the wire, so it waits out a reconnect of any length in the queue, and a
 * connection lost before its reply puts it back in the queue to be sent
 * again, not failed. Only `disconnect()` fails it.
 */

import { ClientErrorCode, errorFromReply, ParleyError } from "./errors.js";
import { OPEN, type WebSocketLike } from "./transport.js";

/** One command and what to do with its reply. */
export interface Request {
  readonly method: string;
  readonly params: object;
  readonly onResult: (result: never) => void;
  readonly onError: (error: ParleyError) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  id: number | undefined;
  /** Kept across reconnects until answered (see the class comment). */
  readonly durable: boolean;
  /** The timeout of one attempt, in milliseconds. */
  readonly timeoutMs: number;
}

export class PendingRequests {
  readonly #timeoutMs: number;
  readonly #outboxLimit: number;
  #nextId = 1;
  readonly #inflight = new Map<number, Request>();
  #queue: Request[] = [];

  constructor(timeoutMs: number, outboxLimit: number) {
    this.#timeoutMs = timeoutMs;
    this.#outboxLimit = outboxLimit;
  }

  /**
   * A request whose timer runs from now (`timeoutMs`, or the client's
   * request timeout); a durable one's runs from each time it is sent.
   */
  create(
    method: string,
    params: object,
    onResult: (result: never) => void,
    onError: (error: ParleyError) => void,
    options: { timeoutMs?: number | undefined; durable?: boolean | undefined } = {},
  ): Request {
    const request: Request = {
      method,
      params,
      onResult,
      onError,
      timer: undefined,
      id: undefined,
      durable: options.durable === true,
      timeoutMs: options.timeoutMs ?? this.#timeoutMs,
    };
    if (!request.durable) request.timer = setTimeout(() => this.#timeout(request), request.timeoutMs);
    return request;
  }

  /**
   * Whether the outbox has room for one more durable request; when it has
   * none, `request` is failed with `OutboxFull` (the caller sends nothing).
   */
  admit(request: Request): boolean {
    if (!request.durable || this.outbox < this.#outboxLimit) return true;
    this.#fail(request, ClientErrorCode.OutboxFull, `the outbox holds ${this.#outboxLimit} messages already`);
    return false;
  }

  /** How many durable requests wait for a connection or a reply: the outbox. */
  get outbox(): number {
    let count = this.#queue.filter((request) => request.durable).length;
    for (const request of this.#inflight.values()) if (request.durable) count += 1;
    return count;
  }

  /** Keeps `request` until the connection is up. */
  queue(request: Request): void {
    this.#queue.push(request);
  }

  /** The queued requests, in order, taken out of the queue. */
  takeQueued(): Request[] {
    return this.#queue.splice(0);
  }

  /** Sends `request` with a fresh id over `socket`, or fails it when that cannot be done. */
  send(request: Request, socket: WebSocketLike | undefined): void {
    if (socket === undefined || socket.readyState !== OPEN) {
      this.#fail(request, ClientErrorCode.ConnectionLost, "the connection is not open");
      return;
    }
    const id = this.#nextId++;
    let frame: string;
    try {
      frame = JSON.stringify({ id, method: request.method, params: request.params });
    } catch (error) {
      this.#fail(request, ClientErrorCode.InvalidParams, `params are not JSON: ${messageOf(error)}`);
      return;
    }
    request.id = id;
    this.#inflight.set(id, request);
    if (request.durable) {
      clearTimeout(request.timer);
      request.timer = setTimeout(() => this.#timeout(request), request.timeoutMs);
    }
    try {
      socket.send(frame);
    } catch (error) {
      this.#inflight.delete(id);
      this.#fail(request, ClientErrorCode.ConnectionLost, `send failed: ${messageOf(error)}`);
    }
  }

  /** Settles the request a reply frame answers; a reply to nothing waiting is dropped. */
  settle(id: number, reply: { result?: unknown; error?: unknown }): void {
    const request = this.#inflight.get(id);
    if (request === undefined) return;
    this.#inflight.delete(id);
    clearTimeout(request.timer);
    if (reply.error !== undefined) {
      request.onError(errorFromReply(request.method, reply.error));
    } else {
      request.onResult((reply.result ?? {}) as never);
    }
  }

  /**
   * Fails every sent request: the connection that owed their replies is
   * gone. Durable ones go back to the front of the queue, in the order
   * they were sent, to go out again on the next connection.
   */
  failInflight(code: number, message: string): void {
    const requests = [...this.#inflight.values()];
    this.#inflight.clear();
    const again: Request[] = [];
    for (const request of requests) {
      if (request.durable) {
        clearTimeout(request.timer);
        request.timer = undefined;
        request.id = undefined;
        again.push(request);
      } else {
        this.#fail(request, code, message);
      }
    }
    this.#queue.unshift(...again);
  }

  /** Fails every queued request: there will be no connection to send them on. */
  failQueued(code: number, message: string): void {
    for (const request of this.takeQueued()) this.#fail(request, code, message);
  }

  #fail(request: Request, code: number, message: string): void {
    clearTimeout(request.timer);
    request.onError(new ParleyError(code, message, { method: request.method }));
  }

  #timeout(request: Request): void {
    if (request.id !== undefined) {
      this.#inflight.delete(request.id);
    } else {
      this.#queue = this.#queue.filter((queued) => queued !== request);
    }
    request.onError(
      new ParleyError(ClientErrorCode.Timeout, `${request.method}: no reply within the request timeout`, { method: request.method }),
    );
  }
}

/** An error's message, whatever was thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
