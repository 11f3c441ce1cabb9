/**
 * The shapes of Parley's native protocol, version 1, as docs/protocol.md
 * defines them: the results of commands, the objects they carry (members,
 * messages, rooms, pins) and the pushes the server sends.
 *
 * Field names stay as they are on the wire (`client_msg_id`, `created_at`)
 * so that what an application reads here is what the protocol documents.
 */

/** Any JSON value: publication data is passed on exactly as published. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A JSON object: presence state, message `meta`, token `info`. */
export type JsonObject = { [key: string]: Json };

/** A position in a channel's stream: an offset and the stream's epoch. */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

/** The result of `connect`. */
export interface ConnectResult {
  /** The connection's id, `<node>.<sequence>`. */
  client: string;
  /** The token's `sub`; `""` for an anonymous connection. */
  user: string;
  ping_interval_ms: number;
  pong_timeout_ms: number;
  /** The token's `exp` in Unix seconds, when it has one. */
  expires_at?: number;
  /** The channels of the token's `channels` claim that were subscribed. */
  subscriptions: string[];
  subscription_errors?: { channel: string; code: number; message: string }[];
  /** The user's unread messages, in apps with a persisted namespace. */
  unread?: number;
}

/** The result of `subscribe`. */
export interface SubscribeResult extends StreamPosition {
  channel: string;
  /** Present when the subscribe asked to recover (`since`). */
  recovered?: boolean;
}

/** Who published a publication, when a client did. */
export interface ClientInfo {
  client: string;
  user: string;
  info?: JsonObject;
}

/** A member of a channel's presence. */
export interface Member {
  user: string;
  name?: string;
  avatar?: string;
  info?: JsonObject;
  state?: JsonObject;
}

/** A page of `presence`. */
export interface PresencePage {
  members: Member[];
  /** The cursor of the next page, when more members follow. */
  next?: string;
}

/** The result of `presence_stats`. */
export interface PresenceStats {
  num_users: number;
  num_connections: number;
  num_anonymous: number;
}

/** A user typing, in a `typing` push. */
export interface Typer {
  user: string;
  name?: string;
}

/** A user's status. */
export type UserStatusValue = "online" | "away" | "offline";

/** One user's status, as `user_status` answers. */
export interface UserStatus {
  user: string;
  status: UserStatusValue;
  /** For an offline user: when their last connection ended, Unix seconds. */
  last_seen?: number;
}

/** An upload a message carries. */
export interface Attachment {
  id: string;
  content_type: string;
  size: number;
  width?: number;
  height?: number;
  url: string;
  thumbnail?: { url: string; content_type: string; size: number; width: number; height: number };
  owner: string;
  created_at: number;
}

/** Reaction counts per emoji, with whether the reader reacts. */
export type ReactionCounts = Record<string, { count: number; me: boolean }>;

/** A chat message (docs/protocol.md, "The message object"). */
export interface Message {
  id: string;
  channel: string;
  /** The offset of the message's `message_created` event. */
  offset: number;
  author: string;
  /**
   * The author's display name when the message was sent: their token's
   * `name` (or the one a backend gave). Never set by the client.
   */
  author_name?: string;
  /** The author's avatar URL when the message was sent, like `author_name`. */
  author_avatar?: string;
  /** The current text; `""` once deleted. */
  text: string;
  reply_to?: string;
  client_msg_id?: string;
  meta?: JsonObject;
  /** Milliseconds since the Unix epoch. */
  created_at: number;
  edited_at?: number;
  deleted_at?: number;
  reply_count?: number;
  repliers?: string[];
  mentions?: string[];
  status?: "hidden";
  attachments?: Attachment[];
  /** In `messages` pages, pins, threads and search results only. */
  reactions?: ReactionCounts;
}

/** One entry of a `history` page. */
export interface HistoryEntry {
  kind: StreamEventKind;
  offset: number;
  data: Json;
  /** When it was stored (persisted namespaces only), milliseconds. */
  created_at?: number;
}

/** A page of `history`. */
export interface HistoryPage extends StreamPosition {
  publications: HistoryEntry[];
  has_more: boolean;
  /** With `total: true`: the channel's message count. */
  total?: number;
}

/** A page of `messages`. */
export interface MessagesPage {
  messages: Message[];
  has_older: boolean;
  has_newer: boolean;
  /**
   * With `total: true`: the channel's messages that every reader sees (not
   * deleted, hidden or shadow; replies included).
   */
  total?: number;
}

/** One revision of an edited message. */
export interface Revision {
  revision: number;
  text: string;
  replaced_at: number;
}

/** A reaction event's data, and (with `me`, `changed`) a reaction result. */
export interface ReactionEvent {
  channel: string;
  message_id?: string;
  user: string;
  emoji: string;
  count: number;
}

/** The result of `reaction_add` and `reaction_remove`. */
export interface ReactionResult extends ReactionEvent {
  me: boolean;
  changed: boolean;
}

/** A room. */
export interface Room {
  channel: string;
  kind: "direct" | "group";
  created_by: string;
  created_at: number;
  last_activity: number;
}

/** A room's member. */
export interface RoomMember {
  user: string;
  role: "owner" | "moderator" | "member";
  joined_at: number;
}

/** The result of `room_create`. */
export interface RoomCreateResult {
  room: Room;
  members: RoomMember[];
  created: boolean;
  offset?: number;
  epoch?: string;
}

/** The result of `room_add_members` and `room_remove_members`. */
export interface RoomMembersResult extends StreamPosition {
  room: Room;
  members: RoomMember[];
}

/** A room as `rooms` lists it for the user. */
export interface RoomSummary extends Room {
  role: RoomMember["role"];
  members: RoomMember[];
  member_count: number;
  last_message: Message | null;
  unread: number;
  mentions: number;
}

/** A page of `rooms`. */
export interface RoomsPage {
  rooms: RoomSummary[];
  next: string | null;
}

/** A read marker, as `read_mark`, `mark_unread` and `read_updated` carry it. */
export interface ReadMarker {
  channel: string;
  user: string;
  last_read_offset: number;
  unread: number;
}

/** The result of `read_mark` and `mark_unread`. */
export interface ReadMarkResult extends ReadMarker {
  moved: boolean;
}

/** The result of `unread`. */
export interface UnreadCounts {
  channels: { channel: string; unread: number; mentions: number; last_read_offset: number }[];
  unread: number;
  mentions: number;
}

/** A pin. */
export interface Pin {
  message: Message;
  pinned: boolean;
  by: string;
  at: number;
}

/** The result of `thread`. */
export interface ThreadPage {
  parent: Message;
  replies: Message[];
  has_more: boolean;
}

/** The result of `search`. */
export interface SearchPage {
  messages: Message[];
  has_more: boolean;
}

/** A mute or ban. */
export interface Restriction {
  user: string;
  kind: "mute" | "shadow_mute" | "ban";
  channel: string | null;
  expires_at: number | null;
  created_by: string;
  created_at: number;
}

/** A report of a message to the moderators. */
export interface Report {
  id: string;
  message_id: string;
  channel: string;
  reporter: string;
  reason: string;
  status: "open" | "resolved";
  created_at: number;
  action?: string;
  resolved_by?: string;
  resolved_at?: number;
}

/** The data of `member_added` and `member_removed`. */
export interface MembershipEvent {
  room: Room;
  members: RoomMember[];
  by: string;
}

/**
 * The pushes that are events of a channel's stream: each has an offset and
 * an epoch, and recovery replays them. `T` is the data of the channel's
 * publications, as the application declares it (`parley.subscribe<T>`).
 */
export interface StreamEventData<T = Json> {
  publication: T;
  message_created: Message;
  message_updated: Message;
  message_deleted: Message;
  reaction_added: ReactionEvent;
  reaction_removed: ReactionEvent;
  member_added: MembershipEvent;
  member_removed: MembershipEvent;
  read_updated: ReadMarker;
  message_pinned: Pin;
  message_unpinned: Pin;
  doc_changed: DocumentChanged;
}

/** The name of a stream event. */
export type StreamEventKind = keyof StreamEventData;

/** The stream event kinds, as the `push` field names them. */
export const STREAM_EVENT_KINDS: readonly StreamEventKind[] = [
  "publication",
  "message_created",
  "message_updated",
  "message_deleted",
  "reaction_added",
  "reaction_removed",
  "member_added",
  "member_removed",
  "read_updated",
  "message_pinned",
  "message_unpinned",
  "doc_changed",
];

/** A stream event as the SDK hands it to the application. */
export interface StreamEvent<K extends StreamEventKind = StreamEventKind, T = Json> extends StreamPosition {
  kind: K;
  channel: string;
  data: StreamEventData<T>[K];
  /** The publisher, for a `publication` a client made (live pushes only). */
  info?: ClientInfo;
}

/** A `publication` event. */
export type Publication<T = Json> = StreamEvent<"publication", T>;

/** The `disconnect` push, which precedes the server's close frame. */
export interface DisconnectPush {
  push: "disconnect";
  code: number;
  reason: string;
  reconnect: boolean;
}

/** Every push the server sends, as it arrives on the wire. */
export type Push =
  | ({ push: StreamEventKind; channel: string; data: Json; info?: ClientInfo } & StreamPosition)
  | { push: "join"; channel: string; member: Member }
  | { push: "leave"; channel: string; user: string }
  | { push: "presence_diff"; channel: string; joins: Member[]; leaves: string[] }
  | { push: "presence_update"; channel: string; member: Member }
  | { push: "typing"; channel: string; users: Typer[] }
  | { push: "user_status"; channel: string; user: string; status: UserStatusValue; last_seen?: number }
  | { push: "unsubscribed"; channel: string; reason: string }
  | DisconnectPush;

/** A live document of a channel (`documents = true` namespaces). */
export interface Document<T = JsonObject> {
  key: string;
  data: T;
  /** 1 when created, one more at each change. */
  version: number;
  /** Milliseconds since the Unix epoch. */
  updated_at: number;
  updated_by: string;
}

/** A document's change: the `doc_changed` event's data (`data` null once deleted). */
export interface DocumentChanged<T = JsonObject> {
  key: string;
  data: T | null;
  version: number;
  updated_at: number;
  updated_by: string;
}

/** The reply to a document write: the change and its event's stream position. */
export type DocumentWritten<T = JsonObject> = DocumentChanged<T> & StreamPosition;

/** A page of a channel's documents. */
export interface DocumentPage<T = JsonObject> {
  documents: Document<T>[];
  /** The cursor of the next page, when there is more. */
  next?: string;
}

/** The `query_changed` push of a live query (`doc_watch`). */
export interface QueryChangedPush {
  push: "query_changed";
  channel: string;
  query: string;
  added: Document[];
  updated: Document[];
  removed: string[];
  /** The whole result's keys, in the query's order. */
  keys: string[];
}
