/**
 * `@parley/react`: React hooks over `@parley/client`.
 *
 * ```tsx
 * const parley = new Parley("wss://chat.example.com", { getToken });
 * parley.connect();
 * root.render(<ParleyProvider client={parley}><Room /></ParleyProvider>);
 *
 * function Room() {
 *   const { messages, send } = useMessages("talk:lobby");
 *   const members = useMembers("room:lobby");
 *   …
 * }
 * ```
 */

export { ParleyProvider, useParley } from "./context.js";
export type { ParleyProviderProps } from "./context.js";
export { useConnectionState } from "./connection.js";
export { useChannel, useChannelEvent } from "./channel.js";
export type { ChannelView } from "./channel.js";
export { usePublications } from "./publications.js";
export type { PublicationsOptions } from "./publications.js";
export { useMembers, usePresence } from "./members.js";
export type { PresenceView } from "./members.js";
export { useTyping } from "./typing.js";
export type { TypingView } from "./typing.js";
export { useMessages } from "./messages.js";
export { useUnread } from "./unread.js";
export type { UnreadOptions, UnreadView } from "./unread.js";
export type { MessagesOptions, MessagesView } from "./messages.js";
