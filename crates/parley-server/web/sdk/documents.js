/**
 * Live documents of a channel: `parley.documents<T>(channel)`, with
 * `get`, `set`, `merge`, `increment`, `delete`, `list` and `watch`. `T`
 * types the documents' data; nothing checks it at run time.
 *
 * ```ts
 * type Progress = { completion: number; watched_at: number };
 * const progress = parley.documents<Progress>(`progress:watch#${user}`);
 * const row = progress.watch({ where: { completion: { lt: 90 } }, order: "watched_at:desc", limit: 20 });
 * row.on("change", () => render(row.result));
 * await progress.merge("ep1", { completion: 33, watched_at: Date.now() });
 * ```
 */
import { Emitter } from "./emitter.js";
import { defined } from "./requests.js";
export class Documents {
    channel;
    #host;
    /** Made by the client; use `parley.documents(channel)`. */
    constructor(channel, host) {
        this.channel = channel;
        this.#host = host;
    }
    /** The document, or `null` when there is none. */
    async get(key) {
        const reply = await this.#host.call("doc_get", { channel: this.channel, key });
        return reply.document;
    }
    /** Replaces the document (creating it). */
    set(key, data, options = {}) {
        return this.#host.call("doc_set", defined({ channel: this.channel, key, data, if_version: options.ifVersion }));
    }
    /** Applies a JSON merge patch (RFC 7386: `null` removes a field). */
    merge(key, patch, options = {}) {
        return this.#host.call("doc_merge", defined({ channel: this.channel, key, patch, if_version: options.ifVersion }));
    }
    /** Adds `by` (default 1) to a numeric field, atomically. */
    increment(key, field, by = 1) {
        return this.#host.call("doc_increment", { channel: this.channel, key, field, by });
    }
    /** Deletes the document. */
    delete(key, options = {}) {
        return this.#host.call("doc_delete", defined({ channel: this.channel, key, if_version: options.ifVersion }));
    }
    /** A page of documents matching `query`; continue with `cursor: page.next`. */
    list(query = {}) {
        return this.#host.call("doc_list", defined({ channel: this.channel, ...query }));
    }
    /**
     * A live query: `result` holds the query's current result, and `change`
     * fires whenever it changes. Started now if connected, else at the next
     * connect, and again after every reconnect (with a fresh result), until
     * {@link LiveQuery.close}.
     */
    watch(query = {}) {
        const live = new LiveQuery(this.channel, query, this.#host);
        this.#host.keep(live, true);
        if (this.#host.connected)
            live._start();
        return live;
    }
}
export class LiveQuery extends Emitter {
    channel;
    query;
    /** The current result, in the query's order. */
    result = [];
    #host;
    /** The server's id of the current watch. */
    #id;
    #closed = false;
    /** Made by {@link Documents.watch}. */
    constructor(channel, query, host) {
        super();
        this.channel = channel;
        this.query = query;
        this.#host = host;
    }
    /** Resolves with the result once the watch has answered. */
    ready() {
        if (this.#id !== undefined)
            return Promise.resolve(this.result);
        return new Promise((resolve) => {
            const off = this.on("change", (change) => {
                if (change.reset) {
                    off();
                    resolve(change.result);
                }
            });
        });
    }
    /** Ends the live query. */
    close() {
        if (this.#closed)
            return;
        this.#closed = true;
        this.#host.keep(this, false);
        const id = this.#id;
        this.#id = undefined;
        if (id !== undefined) {
            this.#host.route(id, undefined);
            if (this.#host.connected)
                this.#host.call("doc_unwatch", { query: id }).catch(() => undefined);
        }
    }
    /** Starts (or restarts, after a reconnect) the watch. */
    _start() {
        if (this.#closed)
            return;
        if (this.#id !== undefined)
            this.#host.route(this.#id, undefined);
        this.#id = undefined;
        this.#host
            .call("doc_watch", defined({ channel: this.channel, ...this.query }))
            .then((reply) => {
            if (this.#closed) {
                this.#host.call("doc_unwatch", { query: reply.query }).catch(() => undefined);
                return;
            }
            this.#id = reply.query;
            this.#host.route(reply.query, this);
            this.result = reply.documents;
            this.emit("change", { result: this.result, added: reply.documents, updated: [], removed: [], reset: true });
        })
            .catch((error) => this.emit("error", error));
    }
    /** Applies a `query_changed` push. */
    _changed(push) {
        if (push.query !== this.#id)
            return;
        const byKey = new Map(this.result.map((document) => [document.key, document]));
        for (const key of push.removed)
            byKey.delete(key);
        const added = push.added;
        const updated = push.updated;
        for (const document of [...added, ...updated])
            byKey.set(document.key, document);
        this.result = push.keys.flatMap((key) => {
            const document = byKey.get(key);
            return document === undefined ? [] : [document];
        });
        this.emit("change", { result: this.result, added, updated, removed: push.removed, reset: false });
    }
}
