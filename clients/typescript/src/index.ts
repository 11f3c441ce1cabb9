/**
 * `@parley/client`: the TypeScript client for Parley's native protocol.
 *
 * ```ts
 * const parley = new Parley("wss://chat.example.com", { getToken });
 * const room = parley.subscribe("chat:room-1");
 * room.on("publication", (publication) => render(publication.data));
 * await parley.connect();
 * ```
 */

export { Parley } from "./client.js";
export type { ConnectionState, ParleyEvents, ParleyOptions } from "./client.js";
export { Subscription } from "./subscription.js";
export type {
  SubscribedEvent,
  SubscriptionEvents,
  SubscriptionOptions,
  SubscriptionState,
  UnsubscribedEvent,
} from "./subscription.js";
export { Chat } from "./chat.js";
export type { ReactionTarget } from "./chat.js";
export { Rooms } from "./rooms.js";
export type { RoomSpec } from "./rooms.js";
export { Documents, LiveQuery } from "./documents.js";
export type { DocumentQuery, LiveQueryChange, LiveQueryEvents, WriteOptions } from "./documents.js";
export { Moderation } from "./moderation.js";
export type { RestrictionSpec } from "./moderation.js";
export { ClientErrorCode, LocalCloseCode, ParleyError, closeAction } from "./errors.js";
export type { CloseAction, DisconnectInfo } from "./errors.js";
export type { BackoffOptions } from "./backoff.js";
export type { WebSocketConstructor, WebSocketLike } from "./transport.js";
export type {
  HistoryOptions,
  MessagesOptions,
  PresenceOptions,
  SendOptions,
  TypingResult,
} from "./requests.js";
export { STREAM_EVENT_KINDS } from "./protocol.js";
export type * from "./protocol.js";
