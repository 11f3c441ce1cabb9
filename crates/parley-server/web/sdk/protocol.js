/**
 * The shapes of Parley's native protocol, version 1, as docs/protocol.md
 * defines them: the results of commands, the objects they carry (members,
 * messages, rooms, pins) and the pushes the server sends.
 *
 * Field names stay as they are on the wire (`client_msg_id`, `created_at`)
 * so that what an application reads here is what the protocol documents.
 */
/** The stream event kinds, as the `push` field names them. */
export const STREAM_EVENT_KINDS = [
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
