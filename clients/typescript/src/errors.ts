/**
 * Errors and disconnect reasons: the server's error codes, the SDK's own
 * codes for failures that never reached the server, and what each close
 * code asks the client to do (docs/protocol.md, "Error codes" and "Close
 * codes").
 */

/**
 * Codes of errors the SDK raises itself. They are below 100, so they never
 * collide with the server's codes, which follow HTTP.
 */
export const ClientErrorCode = {
  /** No reply came within the request timeout. */
  Timeout: 1,
  /** The connection closed before the reply came; the command may or may not have run. */
  ConnectionLost: 2,
  /** `disconnect()` was called, or the server said not to reconnect. */
  Closed: 3,
  /** The server sent something that is not a valid reply. */
  BadReply: 4,
  /** `getToken` failed or returned something other than a string. */
  TokenUnavailable: 5,
  /** The params cannot be sent as JSON (a cycle, a BigInt). */
  InvalidParams: 6,
  /** The outbox holds `outboxLimit` chat messages already; this one was not kept. */
  OutboxFull: 7,
} as const;

/** A failed request: the server's error reply, or one of the SDK's own. */
export class ParleyError extends Error {
  /** The server's code (400, 403, 429, ...) or a {@link ClientErrorCode}. */
  readonly code: number;
  /** The method of the failed request, when there was one. */
  readonly method: string | undefined;
  /** On 429 and 423: how long to wait before trying again, in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(code: number, message: string, options: { method?: string; retryAfterMs?: number } = {}) {
    super(message);
    this.name = "ParleyError";
    this.code = code;
    this.method = options.method;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** Whether the same request may succeed later unchanged. */
  get temporary(): boolean {
    return (
      this.code === 429 ||
      this.code === 500 ||
      this.code === ClientErrorCode.Timeout ||
      this.code === ClientErrorCode.ConnectionLost
    );
  }
}

/** Why the connection is down, with what the SDK does about it. */
export interface DisconnectInfo {
  /** A server close code (4000-4399), a WebSocket code (1000-1015), or {@link LocalCloseCode}. */
  code: number;
  reason: string;
  /** Whether the SDK is going to reconnect by itself. */
  reconnect: boolean;
}

/** Codes of disconnects the SDK decides itself. */
export const LocalCloseCode = {
  /** The application called `disconnect()`. */
  Disconnected: 0,
  /** The token expired and no `getToken` can give a fresh one. */
  TokenExpired: 1,
  /** `getToken` failed; the SDK retries with back-off. */
  TokenUnavailable: 2,
  /** Nothing arrived from the server for too long; the SDK reconnects. */
  NoPong: 3,
  /** The connection could not be made or broke without a close code. */
  NetworkFailure: 4,
  /** `connect` was refused in a way that retrying will not fix. */
  ConnectRefused: 5,
} as const;

/** What the client should do after the server closed with `code`. */
export type CloseAction = "stop" | "backoff" | "now" | "refresh";

/** The client action of a close code, by its range. */
export function closeAction(code: number): CloseAction {
  if (code >= 4000 && code <= 4099) return "stop";
  if (code >= 4200 && code <= 4299) return "now";
  if (code >= 4300 && code <= 4399) return "refresh";
  return "backoff";
}

/** Reads an error reply's `error` object into a {@link ParleyError}. */
export function errorFromReply(method: string, error: unknown): ParleyError {
  if (typeof error !== "object" || error === null) {
    return new ParleyError(ClientErrorCode.BadReply, `malformed error reply to ${method}`, { method });
  }
  const { code, message, retry_after_ms: retryAfterMs } = error as Record<string, unknown>;
  return new ParleyError(
    typeof code === "number" ? code : ClientErrorCode.BadReply,
    typeof message === "string" ? message : "error without a message",
    { method, retryAfterMs: typeof retryAfterMs === "number" ? retryAfterMs : undefined },
  );
}
