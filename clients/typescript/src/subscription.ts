/**
 * A subscription to one channel: its state, the stream position it has
 * reached, and the events of the channel (publications, chat events,
 * presence, typing, status).
 *
 * The subscription outlives connections. Whenever the client connects it
 * subscribes again, with `since` set to the last position it saw, so the
 * server replays what was missed; it reports `recovered: false` when that
 * was not possible. It drops a stream event it has already delivered, so a
 * replay that overlaps what arrived live never shows the application the
 * same offset twice.
 */

import { Emitter } from "./emitter.js";
import { ClientErrorCode, ParleyError } from "./errors.js";
import type {
  HistoryPage,
  Json,
  JsonObject,
  Member,
  MessagesPage,
  Message,
  PresencePage,
  PresenceStats,
  Push,
  StreamEvent,
  StreamEventData,
  StreamEventKind,
  StreamPosition,
  SubscribeResult,
  Typer,
  UserStatus,
} from "./protocol.js";
import { STREAM_EVENT_KINDS } from "./protocol.js";
import type { HistoryOptions, MessagesOptions, PresenceOptions, SendOptions, TypingResult } from "./requests.js";

/** Where a subscription is. */
export type SubscriptionState = "unsubscribed" | "subscribing" | "subscribed";

/** Options of {@link Parley.subscribe}. */
export interface SubscriptionOptions {
  /** A channel token, for a private namespace. */
  token?: string;
  /**
   * Gets a channel token, for a private namespace: called at each subscribe
   * (after a reconnect too), so it can hand out a fresh one.
   */
  getToken?: (channel: string) => Promise<string>;
  /** The member's presence state, in a namespace with presence. */
  state?: JsonObject;
  /**
   * Start by recovering from this position (one the application stored,
   * for example across a page reload) instead of subscribing live.
   */
  since?: StreamPosition;
  /**
   * Keep {@link Subscription.members} current, in a namespace with
   * presence: after every subscribe (the first and each one after a
   * reconnect) the SDK reads the whole member list (`presence`, page by
   * page), then applies each `join`, `leave` and `presence_update`, and
   * emits `members` with the set after each change.
   */
  members?: boolean;
}

/** The `subscribed` event. */
export interface SubscribedEvent extends StreamPosition {
  channel: string;
  /**
   * `true`: the missed events follow. `false`: they could not be replayed,
   * reload the channel's state (for example with `messages` or `history`).
   * `undefined`: a fresh subscription, nothing to recover.
   */
  recovered: boolean | undefined;
  /** Whether this is a subscribe again after a reconnect (or a retry). */
  resubscribed: boolean;
}

/** The `unsubscribed` event. */
export interface UnsubscribedEvent {
  channel: string;
  /** `"unsubscribe called"`, the server's reason (`"banned"`), or the error's message. */
  reason: string;
  /** The error's code when a subscribe was refused. */
  code?: number;
}

/** The events of a subscription whose publications carry `T`. */
export type SubscriptionEvents<T = Json> = {
  [K in StreamEventKind]: StreamEvent<K, T>;
} & {
  /** The subscribe succeeded (the first time or again). */
  subscribed: SubscribedEvent;
  /** The connection was lost; the subscription will be made again. */
  subscribing: { channel: string; reason: string };
  /** The subscription ended and will not be made again. */
  unsubscribed: UnsubscribedEvent;
  /** A subscribe failed (the subscription may retry, see `unsubscribed`). */
  error: ParleyError;
  /** Every stream event, whatever its kind, in offset order. */
  event: StreamEvent<StreamEventKind, T>;
  /** A user joined the channel's presence (`join` pushes and `presence_diff` joins). */
  join: Member;
  /** A user left the channel's presence. */
  leave: { user: string };
  /** A member replaced their state. */
  presence_update: Member;
  /**
   * The channel's members changed (with the `members` option): the whole
   * set, as {@link Subscription.members} holds it now.
   */
  members: ReadonlyMap<string, Member>;
  /** Everyone typing now; empty when nobody is. */
  typing: Typer[];
  /** A user's status changed (on a status channel). */
  user_status: UserStatus;
};

/** What a subscription needs from its client. */
export interface SubscriptionHost {
  /** Whether the connection is up (connected). */
  readonly connected: boolean;
  /** A number that changes with each connection, to drop stale work. */
  readonly connection: number;
  /** The connected user's id, while connected. */
  readonly user: string | undefined;
  /**
   * Sends `subscribe`; the callbacks run synchronously with the reply
   * frame, before any push that follows it is read.
   */
  sendSubscribe(params: object, onResult: (result: SubscribeResult) => void, onError: (error: ParleyError) => void): void;
  call<T>(method: string, params: object): Promise<T>;
  typing(channel: string, active: boolean): Promise<TypingResult>;
  forget(subscription: Subscription<never>): void;
  retryDelay(attempt: number): number;
}

/**
 * A subscription to one channel; `T` is the data of its publications (for
 * `publish` and the `publication` events), `Json` unless the application
 * names it: `parley.subscribe<Move>("game:1")`.
 */
export class Subscription<T = Json> extends Emitter<SubscriptionEvents<T>> {
  /** The channel name. */
  readonly channel: string;
  readonly #host: SubscriptionHost;
  readonly #options: SubscriptionOptions;
  #state: SubscriptionState = "subscribing";
  /** The last position seen: the next subscribe's `since`. */
  #position: StreamPosition | undefined;
  /** The highest offset delivered to the application, to drop duplicates. */
  #delivered: StreamPosition | undefined;
  /** The member state to subscribe with, kept current by `presenceUpdate`. */
  #presenceState: JsonObject | undefined;
  /** Whether the member set is kept (the `members` option, or `trackMembers()`). */
  #trackMembers: boolean;
  /** The members, by user, with the `members` option. */
  readonly #members = new Map<string, Member>();
  /** While the member list is read: the pushes that came meanwhile, applied after it. */
  #membersPending: Array<(members: Map<string, Member>) => void> | undefined;
  #subscribedOnce = false;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #ready: Promise<SubscribedEvent>;
  #settleReady: { resolve: (event: SubscribedEvent) => void; reject: (error: ParleyError) => void } | undefined;

  /** Made by {@link Parley.subscribe}; not meant to be built directly. */
  constructor(host: SubscriptionHost, channel: string, options: SubscriptionOptions) {
    super();
    this.#host = host;
    this.channel = channel;
    this.#options = options;
    this.#position = options.since;
    this.#delivered = options.since;
    this.#presenceState = options.state;
    this.#trackMembers = options.members === true;
    this.#ready = new Promise((resolve, reject) => {
      this.#settleReady = { resolve, reject };
    });
    // The application may never await ready(); its rejection is reported
    // through the `error` and `unsubscribed` events as well.
    this.#ready.catch(() => undefined);
  }

  /** `unsubscribed`, `subscribing` or `subscribed`. */
  get state(): SubscriptionState {
    return this.#state;
  }

  /** The last stream position seen in this channel, if any. */
  get position(): StreamPosition | undefined {
    return this.#position === undefined ? undefined : { ...this.#position };
  }

  /**
   * The channel's members by user, kept current with the `members` option
   * (empty without it, and until the first list is read).
   */
  get members(): ReadonlyMap<string, Member> {
    return this.#members;
  }

  /** The connected user's own entry in {@link members}, once listed. */
  get me(): Member | undefined {
    const user = this.#host.user;
    return user === undefined ? undefined : this.#members.get(user);
  }

  /**
   * Starts keeping {@link members} current, as the `members` option does,
   * for a subscription made without it (reading the list now when it is
   * subscribed). Calling it again does nothing.
   */
  trackMembers(): void {
    if (this.#trackMembers) return;
    this.#trackMembers = true;
    if (this.#state === "subscribed") this.#readMembers(this.#host.connection);
  }

  /**
   * Resolves once the first subscribe succeeded; rejects with the error
   * when it was refused.
   */
  ready(): Promise<SubscribedEvent> {
    return this.#ready;
  }

  /** Ends the subscription (and, in a namespace with presence, leaves). */
  async unsubscribe(): Promise<void> {
    if (this.#state === "unsubscribed") return;
    const wasConnected = this.#host.connected;
    this.#end({ channel: this.channel, reason: "unsubscribe called" });
    if (wasConnected) {
      await this.#host.call("unsubscribe", { channel: this.channel });
    }
  }

  /** Publishes `data` to the channel. */
  publish(data: T): Promise<StreamPosition> {
    return this.#host.call("publish", { channel: this.channel, data });
  }

  /** A page of the channel's members. */
  presence(options: PresenceOptions = {}): Promise<PresencePage> {
    return this.#host.call("presence", { channel: this.channel, ...options });
  }

  /** The channel's presence counts. */
  presenceStats(): Promise<PresenceStats> {
    return this.#host.call("presence_stats", { channel: this.channel });
  }

  /** Replaces the user's member state; it is also kept for subscribing again. */
  async presenceUpdate(state: JsonObject): Promise<void> {
    await this.#host.call("presence_update", { channel: this.channel, state });
    this.#presenceState = state;
  }

  /** Reports typing (throttled to one event per 2 seconds) or its end. */
  typing(active = true): Promise<TypingResult> {
    return this.#host.typing(this.channel, active);
  }

  /** A page of the channel's stream. */
  history(options: HistoryOptions = {}): Promise<HistoryPage> {
    return this.#host.call("history", { channel: this.channel, ...options });
  }

  /** A page of the channel's chat messages. */
  messages(options: MessagesOptions = {}): Promise<MessagesPage> {
    return this.#host.call("messages", { channel: this.channel, ...options });
  }

  /** Sends a chat message to the channel. */
  send(text: string, options: SendOptions = {}): Promise<Message> {
    return this.#host.call("message_send", sendParams(this.channel, text, options));
  }

  /** Subscribes on the current connection. Called by the client. */
  _start(): void {
    if (this.#state === "unsubscribed" || !this.#host.connected) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const connection = this.#host.connection;
    const send = (params: Record<string, unknown>): void => {
      if (this.#state === "unsubscribed" || this.#host.connection !== connection) return;
      const since = params.since as StreamPosition | undefined;
      this.#host.sendSubscribe(
        params,
        (result) => this.#onSubscribed(result, since),
        (error) => this.#onRefused(error),
      );
    };
    const getToken = this.#options.getToken;
    if (getToken === undefined) {
      // Without a token to fetch the subscribe goes out at once, before
      // anything the client queued while it was connecting.
      send(this.#params(this.#options.token));
      return;
    }
    const refuse = (message: string): void => {
      if (this.#host.connection !== connection) return;
      this.#onRefused(new ParleyError(ClientErrorCode.TokenUnavailable, `channel token: ${message}`));
    };
    getToken(this.channel).then(
      (token: unknown) => {
        if (typeof token === "string") send(this.#params(token));
        else refuse("getToken did not return a string");
      },
      (error: unknown) => refuse(error instanceof Error ? error.message : String(error)),
    );
  }

  /** The connection was lost: the subscription waits for the next one. Called by the client. */
  _suspend(reason: string): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (this.#state === "subscribed") {
      this.#state = "subscribing";
      this.emit("subscribing", { channel: this.channel, reason });
    }
  }

  /** The client stopped for good: the subscription fails its waiters. Called by the client. */
  _fail(error: ParleyError): void {
    this.#settleReady?.reject(error);
    this.#settleReady = undefined;
  }

  /** Handles a push of this channel. Called by the client. */
  _push(push: Push): void {
    if (this.#state === "unsubscribed") return;
    switch (push.push) {
      case "join":
        this.emit("join", push.member);
        this.#changeMembers((members) => members.set(push.member.user, push.member));
        return;
      case "leave":
        this.emit("leave", { user: push.user });
        this.#changeMembers((members) => members.delete(push.user));
        return;
      case "presence_diff":
        for (const member of push.joins) this.emit("join", member);
        for (const user of push.leaves) this.emit("leave", { user });
        this.#changeMembers((members) => {
          for (const member of push.joins) members.set(member.user, member);
          for (const user of push.leaves) members.delete(user);
        });
        return;
      case "presence_update":
        this.emit("presence_update", push.member);
        this.#changeMembers((members) => {
          const known = members.get(push.member.user);
          members.set(push.member.user, { ...known, ...push.member });
        });
        return;
      case "typing":
        this.emit("typing", push.users);
        return;
      case "user_status": {
        const status: UserStatus = { user: push.user, status: push.status };
        if (push.last_seen !== undefined) status.last_seen = push.last_seen;
        this.emit("user_status", status);
        return;
      }
      case "unsubscribed":
        this.#end({ channel: this.channel, reason: push.reason });
        return;
      case "disconnect":
        return;
      default:
        if ((STREAM_EVENT_KINDS as readonly string[]).includes(push.push)) {
          this.#onStreamEvent(push);
        }
    }
  }

  #params(token: string | undefined): Record<string, unknown> {
    const params: Record<string, unknown> = { channel: this.channel };
    if (token !== undefined) params.token = token;
    if (this.#presenceState !== undefined) params.state = this.#presenceState;
    if (this.#position !== undefined) params.since = { offset: this.#position.offset, epoch: this.#position.epoch };
    return params;
  }

  #onSubscribed(result: SubscribeResult, since: StreamPosition | undefined): void {
    if (this.#state === "unsubscribed") return;
    const position = { offset: result.offset, epoch: result.epoch };
    if (since === undefined) {
      // A fresh subscription is live from here; pushes that came before
      // the reply were delivered already and stay counted in #delivered.
      if (this.#position === undefined || this.#position.epoch !== position.epoch || this.#position.offset < position.offset) {
        this.#position = position;
      }
    } else if (result.recovered === true) {
      // The missed events follow the reply, from `since` on.
      this.#position = since;
      this.#delivered = since;
    } else {
      // Nothing is replayed; the pushes that follow start after the reply's position.
      this.#position = position;
      this.#delivered = position;
    }
    this.#state = "subscribed";
    this.#attempt = 0;
    const event: SubscribedEvent = {
      channel: this.channel,
      offset: result.offset,
      epoch: result.epoch,
      recovered: since === undefined ? undefined : result.recovered === true,
      resubscribed: this.#subscribedOnce,
    };
    this.#subscribedOnce = true;
    this.#settleReady?.resolve(event);
    this.#settleReady = undefined;
    this.emit("subscribed", event);
    if (this.#trackMembers) this.#readMembers(this.#host.connection);
  }

  /** Applies a member change now, or after the member list being read. */
  #changeMembers(change: (members: Map<string, Member>) => void): void {
    if (!this.#trackMembers) return;
    if (this.#membersPending !== undefined) {
      this.#membersPending.push(change);
      return;
    }
    change(this.#members);
    this.emit("members", this.#members);
  }

  /**
   * Reads the whole member list after a subscribe; the pushes that arrive
   * meanwhile are applied on top of it, in order. A list cut short by the
   * connection's end is read again after the next subscribe.
   */
  #readMembers(connection: number): void {
    this.#membersPending = [];
    const read = async (): Promise<Map<string, Member>> => {
      const members = new Map<string, Member>();
      let cursor: string | undefined;
      do {
        const page: PresencePage = await this.presence(cursor === undefined ? {} : { cursor });
        for (const member of page.members) members.set(member.user, member);
        cursor = page.next;
      } while (cursor !== undefined && this.#host.connection === connection);
      return members;
    };
    read().then(
      (members) => {
        if (this.#host.connection !== connection || this.#state !== "subscribed") return;
        for (const change of this.#membersPending ?? []) change(members);
        this.#membersPending = undefined;
        this.#members.clear();
        for (const [user, member] of members) this.#members.set(user, member);
        this.emit("members", this.#members);
      },
      (error: unknown) => {
        if (this.#host.connection !== connection) return;
        this.#membersPending = undefined;
        this.emit("error", error instanceof ParleyError ? error : new ParleyError(ClientErrorCode.Closed, String(error)));
      },
    );
  }

  #onRefused(error: ParleyError): void {
    if (this.#state === "unsubscribed") return;
    if (error.code === ClientErrorCode.ConnectionLost || error.code === ClientErrorCode.Closed) {
      // The next connection subscribes again.
      return;
    }
    this.emit("error", error);
    if (error.temporary || error.code === ClientErrorCode.TokenUnavailable) {
      const delay = error.retryAfterMs ?? this.#host.retryDelay(this.#attempt);
      this.#attempt += 1;
      this.#retryTimer = setTimeout(() => this._start(), delay);
      return;
    }
    this.#settleReady?.reject(error);
    this.#settleReady = undefined;
    this.#end({ channel: this.channel, reason: error.message, code: error.code });
  }

  #onStreamEvent(push: Extract<Push, { offset: number }>): void {
    const delivered = this.#delivered;
    if (delivered !== undefined && delivered.epoch === push.epoch && push.offset <= delivered.offset) {
      return;
    }
    const position = { offset: push.offset, epoch: push.epoch };
    this.#delivered = position;
    if (this.#position === undefined || this.#position.epoch !== push.epoch || this.#position.offset < push.offset) {
      this.#position = position;
    }
    const event = {
      kind: push.push,
      channel: push.channel,
      data: push.data as StreamEventData[typeof push.push],
      offset: push.offset,
      epoch: push.epoch,
    } as StreamEvent<StreamEventKind, T>;
    if (push.info !== undefined) event.info = push.info;
    this.emit(push.push, event as never);
    this.emit("event", event);
  }

  #end(event: UnsubscribedEvent): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#state = "unsubscribed";
    this.#host.forget(this);
    this.#settleReady?.reject(new ParleyError(event.code ?? ClientErrorCode.Closed, event.reason));
    this.#settleReady = undefined;
    this.emit("unsubscribed", event);
  }
}

/** The params of `message_send`, with a generated `client_msg_id` when none is given. */
export function sendParams(channel: string, text: string, options: SendOptions): Record<string, unknown> {
  const params: Record<string, unknown> = { channel, text, client_msg_id: options.clientMsgId ?? newClientMsgId() };
  if (options.replyTo !== undefined) params.reply_to = options.replyTo;
  if (options.attachments !== undefined) params.attachments = options.attachments;
  if (options.meta !== undefined) params.meta = options.meta;
  if (options.mentions !== undefined) params.mentions = options.mentions;
  return params;
}

/** A random idempotency key, so a message can be resent safely after a lost reply. */
export function newClientMsgId(): string {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  return `c-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}
