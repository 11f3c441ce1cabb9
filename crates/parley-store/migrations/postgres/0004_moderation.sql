-- Moderation on PostgreSQL: restrictions (mutes and bans, per channel or for
-- the whole app, with an optional expiry), users' block lists, and the
-- report queue.

-- One restriction of a user. channel is '' for the whole app; expires_at is
-- NULL for a restriction without timeout. A restriction set again replaces
-- the earlier one (the primary key).
CREATE TABLE moderation_restrictions (
    app_id     TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    expires_at BIGINT,
    created_by TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (app_id, user_id, kind, channel)
);

-- The users each user blocked.
CREATE TABLE user_blocks (
    app_id     TEXT    NOT NULL,
    blocker    TEXT    NOT NULL,
    blocked    TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (app_id, blocker, blocked)
);

-- The moderation queue: reports on messages, by users or by the filter
-- (reporter 'system'). One report per reporter and message.
CREATE TABLE reports (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id      TEXT    NOT NULL,
    message_id  BIGINT  NOT NULL,
    channel     TEXT    NOT NULL,
    reporter    TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    action      TEXT,
    resolved_by TEXT,
    created_at  BIGINT  NOT NULL,
    resolved_at BIGINT
);

CREATE UNIQUE INDEX reports_by_reporter ON reports (app_id, message_id, reporter);

CREATE INDEX reports_by_status ON reports (app_id, status, id);

-- Hidden messages (shown to moderators only) and shadow-muted ones (shown
-- to their author only). hidden and shadow are 0 or 1.
ALTER TABLE messages ADD COLUMN hidden BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN shadow BIGINT NOT NULL DEFAULT 0;

-- Who a publication's content is from (a message's author, a publishing
-- user), for block lists; and, for a shadow-muted author's events, the one
-- user who may see it (NULL: everyone who may read the channel).
ALTER TABLE publications ADD COLUMN author TEXT;
ALTER TABLE publications ADD COLUMN audience TEXT;
