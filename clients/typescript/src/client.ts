/**
 * `Parley`: one connection to a Parley server over the native protocol.
 *
 * It connects (with a token, or a fresh one from `getToken`), sends every
 * request with an id and settles its promise with the reply, refreshes the
 * token before it expires, watches that the server is still there, and
 * reconnects with back-off when the connection is lost for a reason that
 * allows it (docs/protocol.md, "Close codes"). Its subscriptions are made
 * again on each new connection, recovering what they missed.
 */

import { Backoff, jitteredDelay, type BackoffOptions } from "./backoff.js";
import { Chat } from "./chat.js";
import { Emitter } from "./emitter.js";
import {
  ClientErrorCode,
  closeAction,
  errorFromReply,
  LocalCloseCode,
  ParleyError,
  type DisconnectInfo,
} from "./errors.js";
import { Liveness } from "./liveness.js";
import { Moderation } from "./moderation.js";
import type {
  ConnectResult,
  DisconnectPush,
  HistoryPage,
  Json,
  JsonObject,
  PresencePage,
  PresenceStats,
  Push,
  QueryChangedPush,
  StreamPosition,
  UserStatus,
} from "./protocol.js";
import { defined, type HistoryOptions, type PresenceOptions, type TypingResult } from "./requests.js";
import { messageOf, PendingRequests } from "./pending.js";
import { Rooms } from "./rooms.js";
import { Documents, type DocumentsHost, type Watched } from "./documents.js";
import { Subscription, type SubscriptionHost, type SubscriptionOptions } from "./subscription.js";
import { ConnectionTokens } from "./tokens.js";
import { frameText, resolveWebSocket, socketUrl, type WebSocketConstructor, type WebSocketLike } from "./transport.js";

/** Options of {@link Parley}. */
export interface ParleyOptions {
  /** A connection token (JWT). Without it and without `getToken` the connection is anonymous. */
  token?: string;
  /**
   * Gets a connection token: at the first connect when `token` is not
   * given, whenever the server says the token expired, and to refresh the
   * connection before it expires.
   */
  getToken?: () => Promise<string>;
  /** The app to join (`/ws?app=`); the server's default app without it. */
  app?: string;
  /** The WebSocket constructor; required where there is no global one (Node 20). */
  WebSocket?: WebSocketConstructor;
  /** How long a request waits for its reply, in milliseconds. Default 10000. */
  timeoutMs?: number;
  /**
   * How many chat messages the outbox keeps while the connection is down
   * (or their replies are owed); a send beyond it rejects at once with
   * `ClientErrorCode.OutboxFull`. Default 1000.
   */
  outboxLimit?: number;
  /** Whether to reconnect after a connection is lost. Default true. */
  reconnect?: boolean;
  /** The reconnect back-off's bounds. */
  backoff?: BackoffOptions;
  /** Refresh the token this long before it expires (at most half its lifetime). Default 30000. */
  refreshMarginMs?: number;
}

/** Where the connection is. `connecting` includes waiting to reconnect. */
export type ConnectionState = "disconnected" | "connecting" | "connected";

/** The events of {@link Parley}. */
export interface ParleyEvents {
  /** The state changed. */
  state: ConnectionState;
  /** The client is opening a connection, or waiting to reconnect. */
  connecting: { reason: string };
  /** `connect` succeeded; its result. */
  connected: ConnectResult;
  /** The connection ended; `reconnect` tells whether the SDK will reconnect. */
  disconnected: DisconnectInfo;
  /** A failure outside any request the application made (a refresh, a malformed frame). */
  error: ParleyError;
  /** A push for a channel without a {@link Subscription}: the channels of the token's `channels` claim. */
  push: Push;
}

/** The server throttles typing events within 2 seconds of the last accepted one. */
const TYPING_THROTTLE_MS = 2000;

/**
 * Whether a request goes through the outbox: a chat message with its
 * `client_msg_id` (the SDK always sets one), which the server stores once
 * however often it is sent, so it can wait out a reconnect and be sent
 * again after a connection lost before its reply.
 */
function isOutboxed(method: string, params: object): boolean {
  return method === "message_send" && typeof (params as { client_msg_id?: unknown }).client_msg_id === "string";
}

/** How long to wait before retrying a failed refresh. */
const REFRESH_RETRY_MS = 5000;

export class Parley extends Emitter<ParleyEvents> {
  /** Chat messages, reactions, threads, search, pins and read markers. */
  readonly chat: Chat;
  /** Rooms and their members. */
  readonly rooms: Rooms;
  /** Mutes, bans, hidden messages, block lists and reports. */
  readonly moderation: Moderation;

  readonly #url: string;
  readonly #options: ParleyOptions;
  readonly #WebSocket: WebSocketConstructor;
  readonly #backoff: Backoff;
  readonly #host: SubscriptionHost;
  #state: ConnectionState = "disconnected";
  #socket: WebSocketLike | undefined;
  /** Counts sockets; events and work of an older socket are dropped. */
  #connection = 0;
  readonly #timeoutMs: number;
  readonly #requests: PendingRequests;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #tokens: ConnectionTokens;
  #session: ConnectResult | undefined;
  #disconnectPush: DisconnectPush | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bounds the opening of a connection: the upgrade and the `connect` reply. */
  #openTimer: ReturnType<typeof setTimeout> | undefined;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #liveness = new Liveness();
  #waiters: { resolve: (result: ConnectResult) => void; reject: (error: ParleyError) => void }[] = [];
  readonly #typingSentAt = new Map<string, number>();
  /** Live queries kept across reconnects, and the ones answered, by the server's id. */
  readonly #liveQueries = new Set<Watched>();
  readonly #liveQueriesById = new Map<string, Watched>();
  readonly #documentsHost: DocumentsHost;

  /**
   * A client for the server at `url` (`ws://host:port`, `wss://host/ws`,
   * or the `http(s)` form). It does not connect until {@link connect}.
   */
  constructor(url: string, options: ParleyOptions = {}) {
    super();
    this.#url = socketUrl(url, options.app);
    this.#options = options;
    this.#WebSocket = resolveWebSocket(options.WebSocket);
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#requests = new PendingRequests(this.#timeoutMs, options.outboxLimit ?? 1000);
    this.#backoff = new Backoff(options.backoff);
    this.#tokens = new ConnectionTokens(options.token, options.getToken);
    const call = <T>(method: string, params: object = {}): Promise<T> => this.request<T>(method, params);
    this.chat = new Chat(call);
    this.rooms = new Rooms(call);
    this.moderation = new Moderation(call);
    this.#documentsHost = {
      call,
      get connected() {
        return self.#state === "connected";
      },
      route: (query, live) => {
        if (live === undefined) this.#liveQueriesById.delete(query);
        else this.#liveQueriesById.set(query, live);
      },
      keep: (live, kept) => {
        if (kept) this.#liveQueries.add(live);
        else this.#liveQueries.delete(live);
      },
    };
    const minDelay = options.backoff?.minDelayMs ?? 500;
    const maxDelay = options.backoff?.maxDelayMs ?? 20_000;
    const self = this;
    this.#host = {
      get connected() {
        return self.#state === "connected";
      },
      get user() {
        return self.#session?.user;
      },
      get connection() {
        return self.#connection;
      },
      sendSubscribe: (params, onResult, onError) => this.#enqueue("subscribe", params, onResult, onError),
      call,
      typing: (channel, active) => this.typing(channel, active),
      forget: (subscription) => {
        if (this.#subscriptions.get(subscription.channel) === subscription) {
          this.#subscriptions.delete(subscription.channel);
        }
      },
      retryDelay: (attempt) => jitteredDelay(attempt, minDelay, maxDelay),
    };
  }

  /** `disconnected`, `connecting` or `connected`. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The `connect` result of the current connection, while connected. */
  get session(): ConnectResult | undefined {
    return this.#session;
  }

  /**
   * Connects, and from then on keeps connecting until {@link disconnect}
   * or a close code that says not to. Resolves with the `connect` result;
   * rejects when the client stops before it connected.
   */
  connect(): Promise<ConnectResult> {
    const connected = new Promise<ConnectResult>((resolve, reject) => {
      if (this.#state === "connected" && this.#session !== undefined) {
        resolve(this.#session);
        return;
      }
      this.#waiters.push({ resolve, reject });
    });
    // A caller that does not await connect() learns of failures through
    // the `disconnected` event; the promise must not be an unhandled rejection.
    connected.catch(() => undefined);
    if (this.#state === "disconnected") {
      this.#backoff.reset();
      this.#setState("connecting", "connect called");
      this.#open();
    }
    return connected;
  }

  /** Closes the connection and stops reconnecting. Subscriptions are kept for a later {@link connect}. */
  disconnect(): void {
    if (this.#state === "disconnected") return;
    this.#stop(LocalCloseCode.Disconnected, "disconnect called");
  }

  /**
   * Subscribes to `channel`. The subscription is made now if connected,
   * else at the next connect, and again after every reconnect, recovering
   * what it missed. Subscribing to a channel already subscribed returns the
   * existing subscription. `T` types the channel's publication data
   * (`subscribe<Move>("game:1")`); nothing checks it at run time.
   */
  subscribe<T = Json>(channel: string, options: SubscriptionOptions = {}): Subscription<T> {
    const existing = this.#subscriptions.get(channel);
    if (existing !== undefined) return existing as Subscription<unknown> as Subscription<T>;
    const subscription = new Subscription<T>(this.#host, channel, options);
    this.#subscriptions.set(channel, subscription as Subscription<unknown> as Subscription);
    if (this.#state === "connected") subscription._start();
    return subscription;
  }

  /**
   * The live documents of `channel` (a namespace with `documents = true`):
   * get, set, merge, increment, delete, list, and live queries with
   * `watch`. `T` types the documents' data.
   */
  documents<T = JsonObject>(channel: string): Documents<T> {
    return new Documents<T>(channel, this.#documentsHost);
  }

  /** The subscription to `channel`, if there is one. */
  getSubscription(channel: string): Subscription | undefined {
    return this.#subscriptions.get(channel);
  }

  /** Every current subscription. */
  subscriptions(): Subscription[] {
    return [...this.#subscriptions.values()];
  }

  /**
   * How many chat messages wait in the outbox: sent while the connection
   * was down, or sent on a connection that was lost before their reply.
   * They go out (again) when the client is connected.
   */
  get outbox(): number {
    return this.#requests.outbox;
  }

  /** Publishes `data` to `channel`; resolves with the publication's stream position. */
  publish(channel: string, data: Json): Promise<StreamPosition> {
    return this.request("publish", { channel, data });
  }

  /** A round trip to the server. */
  async ping(): Promise<void> {
    await this.request("ping", {});
  }

  /** A page of the channel's members (the connection must be subscribed). */
  presence(channel: string, options: PresenceOptions = {}): Promise<PresencePage> {
    return this.request("presence", defined({ channel, ...options }));
  }

  /** The channel's presence counts. */
  presenceStats(channel: string): Promise<PresenceStats> {
    return this.request("presence_stats", { channel });
  }

  /** Replaces the user's member state in `channel`. */
  async presenceUpdate(channel: string, state: JsonObject): Promise<void> {
    const subscription = this.#subscriptions.get(channel);
    if (subscription !== undefined) {
      await subscription.presenceUpdate(state);
    } else {
      await this.request("presence_update", { channel, state });
    }
  }

  /**
   * Reports that the user is typing in `channel` (`active`, the default)
   * or stopped. Call it on every keystroke: within 2 seconds of the last
   * event sent, it resolves `{throttled: true}` without sending anything.
   */
  async typing(channel: string, active = true): Promise<TypingResult> {
    if (active) {
      const last = this.#typingSentAt.get(channel);
      const now = Date.now();
      if (last !== undefined && now - last < TYPING_THROTTLE_MS) return { throttled: true };
      this.#typingSentAt.set(channel, now);
    } else {
      this.#typingSentAt.delete(channel);
    }
    try {
      const result = await this.request<{ throttled?: boolean }>("typing", { channel, active });
      return { throttled: result.throttled === true };
    } catch (error) {
      if (active) this.#typingSentAt.delete(channel);
      throw error;
    }
  }

  /** Sets the user's status to `away`, or back to `online`; resolves the status after the call. */
  async statusUpdate(status: "online" | "away"): Promise<"online" | "away"> {
    const result = await this.request<{ status: "online" | "away" }>("status_update", { status });
    return result.status;
  }

  /** The status of up to 100 users, in the order asked. */
  async userStatus(users: string[]): Promise<UserStatus[]> {
    const result = await this.request<{ users: UserStatus[] }>("user_status", { users });
    return result.users;
  }

  /** A page of the channel's stream (persisted namespaces, or those with a `history_size`). */
  history(channel: string, options: HistoryOptions = {}): Promise<HistoryPage> {
    return this.request("history", defined({ channel, ...options }));
  }

  /**
   * Sends any command and resolves with its result, or rejects with a
   * {@link ParleyError}. While the client is connecting the command waits
   * for the connection (within the request timeout).
   */
  request<T = unknown>(method: string, params: object = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => this.#enqueue(method, params, resolve, reject));
  }

  #setState(state: ConnectionState, reason: string): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit("state", state);
    if (state === "connecting") this.emit("connecting", { reason });
  }

  #open(): void {
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    const connection = ++this.#connection;
    this.#disconnectPush = undefined;
    let socket: WebSocketLike;
    try {
      socket = new this.#WebSocket(this.#url);
    } catch (error) {
      this.#lost(LocalCloseCode.NetworkFailure, `cannot open a WebSocket: ${messageOf(error)}`);
      return;
    }
    this.#socket = socket;
    // A network that drops packets silently leaves a socket opening for
    // minutes; give up on it after the request timeout and try again.
    this.#openTimer = setTimeout(() => {
      if (connection === this.#connection) this.#lost(LocalCloseCode.NetworkFailure, "the connection did not open in time");
    }, this.#timeoutMs);
    socket.onopen = () => {
      if (connection === this.#connection) void this.#handshake(connection);
    };
    socket.onmessage = (event: { data: unknown }) => {
      if (connection === this.#connection) this.#onFrame(frameText(event.data));
    };
    socket.onclose = (event: { code?: number; reason?: string }) => {
      if (connection === this.#connection) this.#onClose(event.code ?? 1006, event.reason ?? "");
    };
    // The close event follows every error; some implementations throw on
    // an error event nobody listens to.
    socket.onerror = () => undefined;
  }

  async #handshake(connection: number): Promise<void> {
    let askedForFreshToken = false;
    for (;;) {
      let token: string | undefined;
      try {
        token = await this.#tokens.current();
      } catch (error) {
        if (connection !== this.#connection) return;
        this.emit("error", asParleyError(error, ClientErrorCode.TokenUnavailable));
        this.#lost(LocalCloseCode.TokenUnavailable, `getToken failed: ${messageOf(error)}`);
        return;
      }
      if (connection !== this.#connection) return;
      try {
        const result = await new Promise<ConnectResult>((resolve, reject) =>
          this.#enqueue("connect", token === undefined ? {} : { token }, resolve, reject, { direct: true }),
        );
        if (connection === this.#connection) this.#onConnected(result);
        return;
      } catch (caught) {
        if (connection !== this.#connection) return;
        const error = asParleyError(caught, ClientErrorCode.BadReply);
        if (error.code === 419 && !askedForFreshToken && this.#tokens.expire()) {
          askedForFreshToken = true;
          continue;
        }
        this.#onConnectRefused(error);
        return;
      }
    }
  }

  #onConnectRefused(error: ParleyError): void {
    switch (error.code) {
      case ClientErrorCode.ConnectionLost:
        // The close event decides what happens next.
        return;
      case 401:
      case 429:
      case 451:
        // The server closes with 4001, 4101 or 4003 after this reply; the
        // close code decides.
        this.emit("error", error);
        return;
      case 419:
        this.#stop(LocalCloseCode.TokenExpired, "token expired and no getToken to get a fresh one");
        return;
      case 400:
      case 409:
        this.emit("error", error);
        this.#stop(LocalCloseCode.ConnectRefused, `connect refused: ${error.message}`);
        return;
      default:
        this.emit("error", error);
        this.#lost(LocalCloseCode.NetworkFailure, `connect failed: ${error.message}`);
    }
  }

  #onConnected(result: ConnectResult): void {
    clearTimeout(this.#openTimer);
    this.#session = result;
    this.#backoff.reset();
    this.#setState("connected", "connected");
    this.#scheduleRefresh(result.expires_at);
    this.#watchLiveness(result);
    // Subscriptions first, then what was queued while connecting: a queued
    // publish to a private channel needs its subscription made again.
    for (const subscription of [...this.#subscriptions.values()]) subscription._start();
    // Watches end with their connection: each live query watches again and
    // gets a fresh result.
    this.#liveQueriesById.clear();
    for (const live of [...this.#liveQueries]) live._start();
    for (const request of this.#requests.takeQueued()) this.#requests.send(request, this.#socket);
    for (const waiter of this.#waiters.splice(0)) waiter.resolve(result);
    this.emit("connected", result);
  }

  #onFrame(text: string): void {
    this.#liveness.received();
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      this.emit("error", new ParleyError(ClientErrorCode.BadReply, "the server sent a frame that is not JSON"));
      return;
    }
    if (typeof frame !== "object" || frame === null) {
      this.emit("error", new ParleyError(ClientErrorCode.BadReply, "the server sent a frame that is not an object"));
      return;
    }
    const fields = frame as Record<string, unknown>;
    if (typeof fields.id === "number") {
      this.#requests.settle(fields.id, fields);
    } else if (typeof fields.push === "string") {
      this.#onPush(frame as Push);
    } else if (fields.error !== undefined) {
      this.emit("error", errorFromReply("", fields.error));
    }
  }

  #onPush(push: Push): void {
    if (push.push === "disconnect") {
      this.#disconnectPush = push;
      return;
    }
    if ((push as { push: string }).push === "query_changed") {
      const changed = push as unknown as QueryChangedPush;
      this.#liveQueriesById.get(changed.query)?._changed(changed);
      return;
    }
    const subscription = this.#subscriptions.get(push.channel);
    if (subscription !== undefined) {
      subscription._push(push);
    } else {
      this.emit("push", push);
    }
  }

  #onClose(code: number, reason: string): void {
    const push = this.#disconnectPush;
    if (push !== undefined && (code < 4000 || code > 4999)) {
      // The close frame was lost (a reset after the push); the push says why.
      this.#lost(push.code, push.reason);
    } else {
      this.#lost(code, reason || "connection closed");
    }
  }

  /**
   * The connection is gone, or the client gives it up (a local code, below
   * 1000): reconnect, or stop, as the close code says.
   */
  #lost(code: number, reason: string): void {
    this.#closeSocket();
    this.#endConnection(reason, new ParleyError(ClientErrorCode.ConnectionLost, `connection lost: ${reason}`));
    let action = code < 1000 ? "backoff" : closeAction(code);
    if (action === "refresh" && !this.#tokens.expire()) action = "stop";
    if (action === "stop" || this.#options.reconnect === false) {
      this.#stop(code, reason);
      return;
    }
    const delay = action === "backoff" ? this.#backoff.next() : Math.round(Math.random() * 200);
    if (this.#state === "connected") {
      this.emit("disconnected", { code, reason, reconnect: true });
      this.#setState("connecting", reason);
    } else {
      // A failed attempt while reconnecting: the state stays `connecting`.
      this.emit("connecting", { reason });
    }
    this.#reconnectTimer = setTimeout(() => this.#open(), delay);
  }

  /** Stops for good: no reconnect, every waiting request fails. */
  #stop(code: number, reason: string): void {
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#closeSocket();
    this.#endConnection(reason, new ParleyError(ClientErrorCode.ConnectionLost, `connection lost: ${reason}`));
    const closed = new ParleyError(ClientErrorCode.Closed, `disconnected: ${reason}`);
    this.#requests.failQueued(closed.code, closed.message);
    for (const waiter of this.#waiters.splice(0)) waiter.reject(closed);
    for (const subscription of this.#subscriptions.values()) subscription._fail(closed);
    this.#setState("disconnected", reason);
    this.emit("disconnected", { code, reason, reconnect: false });
  }

  /** Ends the current connection's work: timers, replies it still owed, subscriptions. */
  #endConnection(reason: string, lost: ParleyError): void {
    this.#connection += 1;
    this.#session = undefined;
    clearTimeout(this.#openTimer);
    clearTimeout(this.#refreshTimer);
    this.#liveness.stop();
    this.#refreshTimer = undefined;
    this.#requests.failInflight(lost.code, lost.message);
    for (const subscription of this.#subscriptions.values()) subscription._suspend(reason);
  }

  #closeSocket(): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    this.#socket = undefined;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    try {
      socket.close(1000, "client closed");
    } catch {
      // A socket that is still opening may refuse to close; it is dropped all the same.
    }
  }

  #enqueue(
    method: string,
    params: object,
    onResult: (result: never) => void,
    onError: (error: ParleyError) => void,
    options: { direct?: boolean; timeoutMs?: number } = {},
  ): void {
    if (options.direct !== true && this.#state === "disconnected") {
      onError(new ParleyError(ClientErrorCode.Closed, `not connected: call connect() before ${method}`, { method }));
      return;
    }
    const request = this.#requests.create(method, params, onResult, onError, {
      timeoutMs: options.timeoutMs,
      durable: isOutboxed(method, params),
    });
    if (!this.#requests.admit(request)) return;
    if (options.direct === true || this.#state === "connected") {
      this.#requests.send(request, this.#socket);
    } else {
      this.#requests.queue(request);
    }
  }

  #scheduleRefresh(expiresAt: number | undefined): void {
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = undefined;
    if (expiresAt === undefined || !this.#tokens.renewable) return;
    const remaining = expiresAt * 1000 - Date.now();
    const margin = Math.min(this.#options.refreshMarginMs ?? 30_000, remaining / 2);
    const connection = this.#connection;
    this.#refreshTimer = setTimeout(() => void this.#refresh(connection), Math.max(0, remaining - margin));
  }

  async #refresh(connection: number): Promise<void> {
    try {
      const token = await this.#tokens.fresh();
      if (connection !== this.#connection) return;
      const result = await this.request<{ expires_at?: number }>("refresh", { token });
      if (connection !== this.#connection) return;
      this.#tokens.use(token);
      if (this.#session !== undefined) {
        const session: ConnectResult = { ...this.#session };
        if (result.expires_at === undefined) delete session.expires_at;
        else session.expires_at = result.expires_at;
        this.#session = session;
      }
      this.#scheduleRefresh(result.expires_at);
    } catch (error) {
      if (connection !== this.#connection) return;
      this.emit("error", asParleyError(error, ClientErrorCode.TokenUnavailable));
      // Until exp + token_grace the connection stands; if every retry
      // fails, the server closes with 4300 and the reconnect gets a token.
      this.#refreshTimer = setTimeout(() => void this.#refresh(connection), REFRESH_RETRY_MS);
    }
  }

  #watchLiveness(result: ConnectResult): void {
    const connection = this.#connection;
    const ping = () =>
      new Promise((resolve, reject) =>
        this.#enqueue("ping", {}, resolve, reject, { timeoutMs: Math.max(1000, result.pong_timeout_ms) }),
      );
    this.#liveness.start(result.ping_interval_ms, ping, (error) => {
      const timedOut = error instanceof ParleyError && error.code === ClientErrorCode.Timeout;
      if (timedOut && connection === this.#connection) this.#lost(LocalCloseCode.NoPong, "no reply from the server");
    });
  }
}

function asParleyError(error: unknown, code: number): ParleyError {
  return error instanceof ParleyError ? error : new ParleyError(code, messageOf(error));
}
