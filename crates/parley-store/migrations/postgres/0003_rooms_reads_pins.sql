-- Rooms and members, read markers and unread counts, mentions, pins and
-- thread counts, on PostgreSQL.

-- A channel's running count of chat messages: a member's unread count is
-- this minus the count they have seen, so a new message costs one update
-- here and none per member.
ALTER TABLE streams ADD COLUMN message_count BIGINT  NOT NULL DEFAULT 0;

-- seq: the channel's message_count once this message was counted (1, 2, …).
-- reply_count and repliers (the latest repliers, newest first, one user id
-- per line) describe the thread a message starts; mentions are the users it
-- mentions, one per line.
ALTER TABLE messages ADD COLUMN seq BIGINT  NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN reply_count BIGINT  NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN repliers TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN mentions TEXT NOT NULL DEFAULT '';

CREATE INDEX messages_by_thread ON messages (app_id, reply_to, stream_offset)
    WHERE reply_to IS NOT NULL;

-- A room: a channel of a members-only namespace, `direct` (two users, one
-- room per pair: direct_key is the namespace and the sorted pair) or
-- `group`. last_activity orders a user's rooms.
CREATE TABLE rooms (
    app_id        TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    direct_key    TEXT,
    created_by    TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    last_activity BIGINT  NOT NULL,
    PRIMARY KEY (app_id, channel)
);

CREATE UNIQUE INDEX rooms_by_direct_key ON rooms (app_id, direct_key)
    WHERE direct_key IS NOT NULL;

-- A room's members and their roles: owner, moderator, member.
CREATE TABLE room_members (
    app_id    TEXT    NOT NULL,
    channel   TEXT    NOT NULL,
    user_id   TEXT    NOT NULL,
    role      TEXT    NOT NULL,
    joined_at BIGINT  NOT NULL,
    PRIMARY KEY (app_id, channel, user_id)
);

CREATE INDEX room_members_by_user ON room_members (app_id, user_id);

-- A user's read marker in a channel: seen_count messages seen (compared
-- with streams.message_count), up to the message at last_read_offset.
CREATE TABLE read_markers (
    app_id           TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    user_id          TEXT    NOT NULL,
    seen_count       BIGINT  NOT NULL,
    last_read_offset BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    PRIMARY KEY (app_id, channel, user_id)
);

CREATE INDEX read_markers_by_user ON read_markers (app_id, user_id);

-- Who a message mentions, with the message's seq, so a user's unread
-- mentions are those above their seen_count.
CREATE TABLE mentions (
    app_id     TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    message_id BIGINT  NOT NULL,
    seq        BIGINT  NOT NULL,
    PRIMARY KEY (app_id, channel, user_id, message_id)
);

-- The pinned messages of a channel.
CREATE TABLE pins (
    app_id     TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    message_id BIGINT  NOT NULL,
    pinned_by  TEXT    NOT NULL,
    pinned_at  BIGINT  NOT NULL,
    PRIMARY KEY (app_id, channel, message_id)
);
