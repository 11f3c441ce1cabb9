-- Live documents on SQLite: the current state of each document of a
-- channel (a JSON object as text, its version and its last writer). Every
-- change is also a `doc_changed` event in the channel's stream; this table
-- is its projection, read by `doc_get`, `doc_list` and live queries.
CREATE TABLE documents (
    app_id     TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    doc_key    TEXT    NOT NULL,
    data       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    PRIMARY KEY (app_id, channel, doc_key)
);

-- Lists ordered by last change (the default order, "most recent first").
CREATE INDEX documents_by_updated_at ON documents (app_id, channel, updated_at, doc_key);
