// Shared pieces of the SDK's suite: the server under test (from the
// environment), tokens, the HTTP API, a TCP proxy that can cut the network,
// and waits that poll with a generous deadline.

import { createHmac, randomBytes } from "node:crypto";
import net from "node:net";
import WebSocket from "ws";

import { Parley } from "../dist/index.js";

function required(name) {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`${name} is not set: run the suite through cargo test -p parley-server --test js client_typescript`);
  }
  return value;
}

/** The server under test: `PARLEY_URL` (http://host:port), app id, secret and API key. */
export const env = {
  url: required("PARLEY_URL"),
  app: required("PARLEY_APP_ID"),
  secret: required("PARLEY_APP_SECRET"),
  apiKey: required("PARLEY_API_KEY"),
  chromium: process.env.PARLEY_CHROMIUM ?? "/usr/bin/chromium",
};

/** How long any single wait may take before the test fails. */
export const WAIT_MS = 10_000;

/** A fresh name, so tests never share channels or users. */
export function unique(prefix) {
  return `${prefix}${randomBytes(6).toString("hex")}`;
}

function base64url(value) {
  return Buffer.from(value).toString("base64url");
}

/** An HS256 connection token for `user`, expiring in `lifetimeSeconds` (negative: expired). */
export function token(user, { lifetimeSeconds = 600, ...claims } = {}) {
  const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const exp = Math.floor(Date.now() / 1000) + lifetimeSeconds;
  const payload = base64url(JSON.stringify({ sub: user, exp, ...claims }));
  const signature = createHmac("sha256", env.secret).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}

/** Calls the HTTP API with the app's key; resolves the JSON body, throws on a non-2xx status. */
export async function api(method, path, body) {
  const response = await fetch(new URL(path, env.url), {
    method,
    headers: { authorization: `Bearer ${env.apiKey}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

/** Publishes through the HTTP API, as an application's backend does. */
export function publish(channel, data) {
  return api("POST", "/api/v1/publish", { channel, data });
}

/** Waits until `check()` returns a truthy value (which it resolves), polling. */
export async function waitFor(what, check) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves with the next `event` of `emitter`. */
export function next(emitter, event, what = event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}`));
    }, WAIT_MS);
    const off = emitter.once(event, (value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/** Records every `event` of `emitter` in an array. */
export function record(emitter, event) {
  const seen = [];
  emitter.on(event, (value) => seen.push(value));
  return seen;
}

const clients = new Set();

/** A `Parley` for Node (with `ws`), disconnected by `closeAll`. */
export function client(options = {}, url = env.url) {
  const parley = new Parley(url, { WebSocket, app: env.app, backoff: { minDelayMs: 50, maxDelayMs: 300 }, ...options });
  clients.add(parley);
  return parley;
}

/** A connected client for `user`. */
export async function connected(user, options = {}) {
  const parley = client({ token: token(user), ...options });
  await parley.connect();
  return parley;
}

/** Disconnects every client the test made. */
export function closeAll() {
  for (const parley of clients) parley.disconnect();
  clients.clear();
}

/**
 * A TCP proxy in front of the server, so a test can fail the network:
 * `cut()` resets every connection through it, `down()` also refuses new
 * ones until `up()`, and `freeze()` keeps connections open but stops
 * passing bytes until `thaw()`.
 */
export class NetworkProxy {
  #server;
  #sockets = new Set();
  #down = false;
  #frozen = false;
  connections = 0;

  static async start() {
    const proxy = new NetworkProxy();
    await proxy.#listen();
    return proxy;
  }

  async #listen() {
    const target = new URL(env.url);
    this.#server = net.createServer((inbound) => {
      if (this.#down) {
        inbound.resetAndDestroy();
        return;
      }
      this.connections += 1;
      const outbound = net.connect(Number(target.port), target.hostname);
      for (const socket of [inbound, outbound]) {
        this.#sockets.add(socket);
        socket.on("close", () => this.#sockets.delete(socket));
        socket.on("error", () => undefined);
      }
      inbound.on("data", (chunk) => this.#frozen || outbound.write(chunk));
      outbound.on("data", (chunk) => this.#frozen || inbound.write(chunk));
      inbound.on("close", () => outbound.destroy());
      outbound.on("close", () => inbound.destroy());
    });
    await new Promise((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
  }

  /** The URL clients use to go through the proxy. */
  get url() {
    return `http://127.0.0.1:${this.#server.address().port}`;
  }

  cut() {
    for (const socket of this.#sockets) socket.resetAndDestroy();
  }

  down() {
    this.#down = true;
    this.cut();
  }

  up() {
    this.#down = false;
  }

  freeze() {
    this.#frozen = true;
  }

  thaw() {
    this.#frozen = false;
  }

  async close() {
    this.#down = true;
    this.cut();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}
