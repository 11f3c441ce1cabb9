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
export { Subscription } from "./subscription.js";
export { Chat } from "./chat.js";
export { Rooms } from "./rooms.js";
export { Documents, LiveQuery } from "./documents.js";
export { Moderation } from "./moderation.js";
export { ClientErrorCode, LocalCloseCode, ParleyError, closeAction } from "./errors.js";
export { STREAM_EVENT_KINDS } from "./protocol.js";
