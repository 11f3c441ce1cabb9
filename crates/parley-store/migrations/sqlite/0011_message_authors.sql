-- The author's profile as it was when the message was sent: the name and
-- avatar of the token (or the ones a backend gave when it sent as a user),
-- stored with each message so that a page shows them without a lookup and
-- a later profile change leaves earlier messages as they were. NULL when
-- the sender had none.
ALTER TABLE messages ADD COLUMN author_name TEXT;
ALTER TABLE messages ADD COLUMN author_avatar TEXT;

-- A channel's messages that a reader sees: not deleted, not hidden, not
-- shadow. Unlike message_count (which only grows: it numbers messages for
-- unread counts), deleting or hiding a message takes it off, and showing
-- it again puts it back. It answers a page's `total` without a COUNT(*).
ALTER TABLE streams ADD COLUMN live_messages INTEGER NOT NULL DEFAULT 0;

UPDATE streams SET live_messages = (
    SELECT COUNT(*) FROM messages m
    WHERE m.app_id = streams.app_id AND m.channel = streams.channel
      AND m.deleted_at IS NULL AND m.hidden = 0 AND m.shadow = 0
);
