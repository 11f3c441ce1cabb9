-- Full-text search over message text on SQLite: an FTS5 index whose content
-- is the messages table, kept current by triggers. A deleted message's text
-- is empty, so it leaves the index with its text.
CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages', content_rowid='id');

INSERT INTO messages_fts (rowid, body) SELECT id, body FROM messages;

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
