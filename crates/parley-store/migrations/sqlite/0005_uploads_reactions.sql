-- Uploads, message attachments and reactions.

-- One uploaded file. The id is 128 random bits in hex: it is unguessable,
-- so it is also the capability to read the file (see docs/http-api.md).
-- The file's bytes live in the server's upload storage, not here. Width,
-- height and the thumbnail columns are set for images only.
CREATE TABLE uploads (
    id                     TEXT    NOT NULL PRIMARY KEY,
    app_id                 TEXT    NOT NULL,
    owner                  TEXT    NOT NULL,
    content_type           TEXT    NOT NULL,
    size                   INTEGER NOT NULL,
    width                  INTEGER,
    height                 INTEGER,
    thumbnail_content_type TEXT,
    thumbnail_size         INTEGER,
    thumbnail_width        INTEGER,
    thumbnail_height       INTEGER,
    created_at             INTEGER NOT NULL
);

CREATE INDEX uploads_by_owner ON uploads (app_id, owner);

-- The uploads a message carries, in the order its author gave them.
CREATE TABLE message_attachments (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    upload_id  TEXT    NOT NULL REFERENCES uploads (id),
    PRIMARY KEY (message_id, position)
);

-- One row per (message, user, emoji): adding the same reaction twice
-- changes nothing.
CREATE TABLE message_reactions (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    TEXT    NOT NULL,
    emoji      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);

-- Reactions to a channel itself (a page, a match), one row per
-- (app, channel, user, emoji).
CREATE TABLE channel_reactions (
    app_id     TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    emoji      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, channel, user_id, emoji)
);
