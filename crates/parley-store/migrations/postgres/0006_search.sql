-- Full-text search over message text on PostgreSQL: a generated tsvector
-- (the `simple` configuration: words as written, no stemming, as SQLite's
-- FTS5 tokenizer) with a GIN index. A deleted message's text is empty, so
-- its vector is too.
ALTER TABLE messages
    ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED;

CREATE INDEX messages_search ON messages USING GIN (search);
