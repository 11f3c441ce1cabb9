-- Live documents on PostgreSQL: the current state of each document of a
-- channel (a JSON object as text, read as jsonb by queries, so that
-- `sqlx::Any` carries it as on SQLite), its version and its last writer.
-- Every change is also a `doc_changed` event in the channel's stream; this
-- table is its projection, read by `doc_get`, `doc_list` and live queries.
-- Keys compare byte by byte (COLLATE "C"), as on SQLite, so cursors and
-- orders agree across backends.
CREATE TABLE documents (
    app_id     TEXT   NOT NULL,
    channel    TEXT   NOT NULL,
    doc_key    TEXT   COLLATE "C" NOT NULL,
    data       TEXT   NOT NULL,
    version    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT   NOT NULL,
    PRIMARY KEY (app_id, channel, doc_key)
);

-- Lists ordered by last change (the default order, "most recent first").
CREATE INDEX documents_by_updated_at ON documents (app_id, channel, updated_at, doc_key);
