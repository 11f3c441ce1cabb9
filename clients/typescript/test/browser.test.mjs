// The built SDK in a real browser: a page served from a local HTTP server
// loads dist/index.js as an ES module in Debian's Chromium (driven by
// playwright-core), connects with the browser's own WebSocket, subscribes,
// and receives a publication made through the HTTP API.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { api, env, publish, token, unique, WAIT_MS } from "./helpers.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>Parley SDK in a browser</title>
<script type="module">
  import { Parley } from "/dist/index.js";
  window.received = [];
  window.states = [];
  window.run = async ({ url, app, token, channel }) => {
    const parley = new Parley(url, { app, token });
    parley.on("state", (state) => window.states.push(state));
    const session = await parley.connect();
    const subscription = parley.subscribe(channel);
    subscription.on("publication", (publication) => {
      window.received.push({ data: publication.data, offset: publication.offset, channel: publication.channel });
    });
    const subscribed = await subscription.ready();
    return { user: session.user, offset: subscribed.offset, hasGlobalWebSocket: typeof WebSocket === "function" };
  };
</script>`;

let site;
let browser;

/** Serves the page and the built SDK (only files under dist/). */
function serve() {
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname === "/") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end(PAGE);
      return;
    }
    const file = path.resolve(root, `.${url.pathname}`);
    if (!file.startsWith(path.join(root, "dist") + path.sep) || !file.endsWith(".js")) {
      response.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

before(async () => {
  site = await serve();
  browser = await chromium.launch({
    executablePath: env.chromium,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
});

test("a page in Chromium connects, subscribes and receives a publication from the HTTP API", async () => {
  const page = await browser.newPage();
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  await page.goto(`http://127.0.0.1:${site.address().port}/`);
  await page.waitForFunction(() => typeof window.run === "function", undefined, { timeout: WAIT_MS });

  const user = unique("browser");
  const channel = unique("chat:");
  const started = await page.evaluate((options) => window.run(options), {
    url: env.url,
    app: env.app,
    token: token(user),
    channel,
  });
  assert.deepEqual(started, { user, offset: 0, hasGlobalWebSocket: true });

  await publish(channel, { text: "hello, browser" });
  await page.waitForFunction(() => window.received.length > 0, undefined, { timeout: WAIT_MS });
  const seen = await page.evaluate(() => ({ received: window.received, states: window.states }));
  assert.deepEqual(seen.received, [{ data: { text: "hello, browser" }, offset: 1, channel }]);
  assert.deepEqual(seen.states, ["connecting", "connected"]);
  assert.deepEqual(pageErrors, []);
  await page.close();
});

test("a page on another origin edits a message (PATCH) and reacts to it (PUT) through the HTTP API", async () => {
  // The page is served from another port than the server's: a cross-origin
  // request whose preflight must allow PATCH and PUT (allowed_origins "*").
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${site.address().port}/`);
  const user = unique("browser");
  const channel = unique("talk:");
  const message = await api("POST", "/api/v1/messages", { channel, user, text: "first draft" });
  const results = await page.evaluate(
    async ({ url, app, token, id }) => {
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
      const edited = await fetch(`${url}/api/v1/messages/${id}?app=${app}`, {
        method: "PATCH",
        headers,
        body: JSON.stringify({ text: "final text" }),
      });
      const reacted = await fetch(`${url}/api/v1/messages/${id}/reactions/${encodeURIComponent("👍")}?app=${app}`, {
        method: "PUT",
        headers,
      });
      return { edited: [edited.status, (await edited.json()).text], reacted: reacted.status };
    },
    { url: env.url, app: env.app, token: token(user), id: message.id },
  );
  assert.deepEqual(results, { edited: [200, "final text"], reacted: 200 });
  const page1 = await api("GET", `/api/v1/channels/${encodeURIComponent(channel)}/messages?app=${env.app}`);
  assert.equal(page1.messages[0].text, "final text");
  assert.deepEqual(page1.messages[0].reactions?.["👍"]?.count, 1);
  await page.close();
});
