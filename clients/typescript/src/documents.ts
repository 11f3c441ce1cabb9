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
import type { ParleyError } from "./errors.js";
import type {
  Document,
  DocumentPage,
  DocumentWritten,
  JsonObject,
  QueryChangedPush,
} from "./protocol.js";
import { defined, type Caller } from "./requests.js";

/** A query over a channel's documents (see the protocol's "Queries"). */
export interface DocumentQuery {
  /** Conditions on top-level fields: `{ completion: { lt: 90 }, kind: "movie" }`. */
  where?: JsonObject;
  /** `updated_at` or a top-level field, then `:asc` or `:desc` (default `updated_at:desc`). */
  order?: string;
  /** 1 to 100 (default 20). */
  limit?: number;
}

/** Compare-and-set: the version the document must have (0: it must not exist). */
export interface WriteOptions {
  ifVersion?: number;
}

/** What a live query's `change` event says. */
export interface LiveQueryChange<T> {
  /** The whole result, in the query's order. */
  result: Document<T>[];
  added: Document<T>[];
  updated: Document<T>[];
  removed: string[];
  /** True for a fresh result (the first, and each after a reconnect). */
  reset: boolean;
}

/** The events of a {@link LiveQuery}. */
export interface LiveQueryEvents<T> {
  change: LiveQueryChange<T>;
  error: ParleyError;
}

/** A live query as the client sees it, whatever its document type. */
export interface Watched {
  _start(): void;
  _changed(push: QueryChangedPush): void;
}

/** What live queries need of the client. */
export interface DocumentsHost {
  call: Caller;
  readonly connected: boolean;
  /** Routes the query's pushes to it (`undefined`: no longer). */
  route(query: string, live: Watched | undefined): void;
  /** Keeps the live query across reconnects, until it is closed. */
  keep(live: Watched, kept: boolean): void;
}

export class Documents<T = JsonObject> {
  readonly channel: string;
  readonly #host: DocumentsHost;

  /** Made by the client; use `parley.documents(channel)`. */
  constructor(channel: string, host: DocumentsHost) {
    this.channel = channel;
    this.#host = host;
  }

  /** The document, or `null` when there is none. */
  async get(key: string): Promise<Document<T> | null> {
    const reply = await this.#host.call<{ document: Document<T> | null }>("doc_get", { channel: this.channel, key });
    return reply.document;
  }

  /** Replaces the document (creating it). */
  set(key: string, data: T, options: WriteOptions = {}): Promise<DocumentWritten<T>> {
    return this.#host.call("doc_set", defined({ channel: this.channel, key, data, if_version: options.ifVersion }));
  }

  /** Applies a JSON merge patch (RFC 7386: `null` removes a field). */
  merge(key: string, patch: Partial<T> | JsonObject, options: WriteOptions = {}): Promise<DocumentWritten<T>> {
    return this.#host.call("doc_merge", defined({ channel: this.channel, key, patch, if_version: options.ifVersion }));
  }

  /** Adds `by` (default 1) to a numeric field, atomically. */
  increment(key: string, field: string, by = 1): Promise<DocumentWritten<T>> {
    return this.#host.call("doc_increment", { channel: this.channel, key, field, by });
  }

  /** Deletes the document. */
  delete(key: string, options: WriteOptions = {}): Promise<DocumentWritten<T>> {
    return this.#host.call("doc_delete", defined({ channel: this.channel, key, if_version: options.ifVersion }));
  }

  /** A page of documents matching `query`; continue with `cursor: page.next`. */
  list(query: DocumentQuery & { cursor?: string } = {}): Promise<DocumentPage<T>> {
    return this.#host.call("doc_list", defined({ channel: this.channel, ...query }));
  }

  /**
   * A live query: `result` holds the query's current result, and `change`
   * fires whenever it changes. Started now if connected, else at the next
   * connect, and again after every reconnect (with a fresh result), until
   * {@link LiveQuery.close}.
   */
  watch(query: DocumentQuery = {}): LiveQuery<T> {
    const live = new LiveQuery<T>(this.channel, query, this.#host);
    this.#host.keep(live, true);
    if (this.#host.connected) live._start();
    return live;
  }
}

export class LiveQuery<T = JsonObject> extends Emitter<LiveQueryEvents<T>> implements Watched {
  readonly channel: string;
  readonly query: DocumentQuery;
  /** The current result, in the query's order. */
  result: Document<T>[] = [];
  readonly #host: DocumentsHost;
  /** The server's id of the current watch. */
  #id: string | undefined;
  #closed = false;

  /** Made by {@link Documents.watch}. */
  constructor(channel: string, query: DocumentQuery, host: DocumentsHost) {
    super();
    this.channel = channel;
    this.query = query;
    this.#host = host;
  }

  /** Resolves with the result once the watch has answered. */
  ready(): Promise<Document<T>[]> {
    if (this.#id !== undefined) return Promise.resolve(this.result);
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
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#host.keep(this, false);
    const id = this.#id;
    this.#id = undefined;
    if (id !== undefined) {
      this.#host.route(id, undefined);
      if (this.#host.connected) this.#host.call("doc_unwatch", { query: id }).catch(() => undefined);
    }
  }

  /** Starts (or restarts, after a reconnect) the watch. */
  _start(): void {
    if (this.#closed) return;
    if (this.#id !== undefined) this.#host.route(this.#id, undefined);
    this.#id = undefined;
    this.#host
      .call<{ query: string; documents: Document<T>[] }>("doc_watch", defined({ channel: this.channel, ...this.query }))
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
      .catch((error: ParleyError) => this.emit("error", error));
  }

  /** Applies a `query_changed` push. */
  _changed(push: QueryChangedPush): void {
    if (push.query !== this.#id) return;
    const byKey = new Map(this.result.map((document) => [document.key, document]));
    for (const key of push.removed) byKey.delete(key);
    const added = push.added as unknown as Document<T>[];
    const updated = push.updated as unknown as Document<T>[];
    for (const document of [...added, ...updated]) byKey.set(document.key, document);
    this.result = push.keys.flatMap((key) => {
      const document = byKey.get(key);
      return document === undefined ? [] : [document];
    });
    this.emit("change", { result: this.result, added, updated, removed: push.removed, reset: false });
  }
}
