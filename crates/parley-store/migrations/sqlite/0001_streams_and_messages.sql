-- Parley's durable store on SQLite. Every table is keyed by app id first:
-- nothing is shared between apps. Times are milliseconds since the Unix
-- epoch; offsets start at 1.

-- One durable stream per (app, channel): its epoch never changes once the
-- row exists, and last_offset is the offset of its newest publication.
CREATE TABLE streams (
    app_id      TEXT    NOT NULL,
    channel     TEXT    NOT NULL,
    epoch       TEXT    NOT NULL,
    last_offset INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (app_id, channel)
);

-- The events of each stream. message_id is set on message events, so that
-- deleting a message can redact the events that carried its text.
CREATE TABLE publications (
    app_id        TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    stream_offset INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    data          BLOB    NOT NULL,
    message_id    INTEGER,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (app_id, channel, stream_offset)
);

CREATE INDEX publications_by_message
    ON publications (app_id, channel, message_id)
    WHERE message_id IS NOT NULL;

CREATE INDEX publications_by_age ON publications (app_id, created_at);

-- The current state of each chat message. AUTOINCREMENT keeps ids from
-- being reused after a hard delete. stream_offset is the offset of the
-- message's message_created publication and orders the channel's messages.
CREATE TABLE messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id        TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    stream_offset INTEGER NOT NULL,
    author        TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    reply_to      INTEGER,
    meta          BLOB,
    client_msg_id TEXT,
    created_at    INTEGER NOT NULL,
    edited_at     INTEGER,
    deleted_at    INTEGER
);

CREATE UNIQUE INDEX messages_by_offset ON messages (app_id, channel, stream_offset);

CREATE UNIQUE INDEX messages_by_client_msg_id
    ON messages (app_id, channel, author, client_msg_id)
    WHERE client_msg_id IS NOT NULL;

-- The edit trail: each row is a text a message had before an edit replaced
-- it; revision 1 is the original text.
CREATE TABLE message_revisions (
    message_id  INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    revision    INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    replaced_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, revision)
);
