/**
 * The WebSocket the client talks over: the browser's own, or any
 * constructor with the same shape (Node 20 has no global WebSocket; pass
 * the `ws` package's).
 */

/**
 * The part of the WebSocket interface the SDK uses. The handlers take
 * `any` on purpose: browsers, `ws` and other implementations each declare
 * their own event types, and each must fit.
 */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor: `globalThis.WebSocket`, or `ws`'s `WebSocket`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The `readyState` of an open socket. */
export const OPEN = 1;

/** The constructor to use: the option's, else the global one. */
export function resolveWebSocket(option: WebSocketConstructor | undefined): WebSocketConstructor {
  if (option !== undefined) return option;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global === undefined) {
    throw new TypeError(
      "no WebSocket in this environment: pass one, for example `new Parley(url, { WebSocket })` with `import WebSocket from 'ws'`",
    );
  }
  return global;
}

const decoder = new TextDecoder();

/**
 * A frame's text. Browsers and `ws` hand text frames over as strings; a
 * binary frame (which Parley never sends) is decoded all the same, so that
 * it fails as malformed JSON rather than as a type error.
 */
export function frameText(data: unknown): string {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return decoder.decode(data);
  if (ArrayBuffer.isView(data)) return decoder.decode(data);
  return String(data);
}

/**
 * The socket URL with the app: `/ws?app=<app>`. A URL without a path gets
 * `/ws`; `http(s)` is turned into `ws(s)`.
 */
export function socketUrl(url: string, app: string | undefined): string {
  const parsed = new URL(url);
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new TypeError(`a Parley URL is ws:, wss:, http: or https:, not ${parsed.protocol}`);
  }
  if (parsed.pathname === "/" || parsed.pathname === "") parsed.pathname = "/ws";
  if (app !== undefined) parsed.searchParams.set("app", app);
  return parsed.toString();
}
