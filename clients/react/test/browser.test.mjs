// The hooks in a real browser, under React 18 and React 19: test/app.mjs
// bundled by esbuild against each version, served to Debian's Chromium
// (driven by playwright-core), rendered in StrictMode. A second user, the
// SDK in Node, and the HTTP API act on the same channels; the test reads
// what the page shows.

import assert from "node:assert/strict";
import { createServer } from "node:http";
import path from "node:path";
import { after, afterEach, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";
import { chromium } from "playwright-core";

import {
  api,
  closeAll,
  connected,
  env,
  NetworkProxy,
  publish,
  token,
  unique,
  waitFor,
  WAIT_MS,
} from "../../typescript/test/helpers.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const PAGE = (version) => `<!doctype html>
<meta charset="utf-8">
<title>Parley hooks on React ${version}</title>
<div id="root"></div>
<script type="module" src="/app-${version}.js"></script>`;

/** test/app.mjs with `react` and `react-dom` taken from the version's packages. */
async function bundle(version) {
  const result = await build({
    entryPoints: [path.join(root, "test/app.mjs")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    alias: { react: `react${version}`, "react-dom": `react-dom${version}` },
    define: { "process.env.NODE_ENV": '"development"' },
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

let site;
let browser;
const bundles = new Map();

before(async () => {
  for (const version of [18, 19]) bundles.set(version, await bundle(version));
  site = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const page = url.pathname.match(/^\/(18|19)$/);
    const script = url.pathname.match(/^\/app-(18|19)\.js$/);
    if (page !== null) {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE(page[1]));
    } else if (script !== null) {
      response.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(bundles.get(Number(script[1])));
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => site.listen(0, "127.0.0.1", resolve));
  browser = await chromium.launch({
    executablePath: env.chromium,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

let proxy;

afterEach(async () => {
  closeAll();
  await proxy?.close();
  proxy = undefined;
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
});

/** Waits until the element marked `testid` shows exactly `expected`. */
async function shows(page, testid, expected) {
  const locator = page.getByTestId(testid);
  const deadline = Date.now() + WAIT_MS;
  let text = await locator.textContent();
  while (text !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    text = await locator.textContent();
  }
  assert.equal(text, expected, `[data-testid=${testid}]`);
}

/** The items of the list marked `testid`. */
function items(page, testid) {
  return page.getByTestId(testid).locator("li").allTextContents();
}

for (const version of [18, 19]) {
  test(`React ${version}: connection, publications, members, typing and chat messages stay current`, async () => {
    const page = await browser.newPage();
    const pageErrors = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(`http://127.0.0.1:${site.address().port}/${version}`);
    await page.waitForFunction(() => typeof window.start === "function", undefined, { timeout: WAIT_MS });
    assert.equal((await page.evaluate(() => window.reactVersion)).split(".")[0], String(version));

    const alice = unique("alice");
    const bob = unique("bob");
    const channels = { feed: unique("feed:"), room: unique("room:"), talk: unique("talk:") };
    // The page reaches the server through a proxy the test can cut.
    proxy = await NetworkProxy.start();
    await page.evaluate((options) => window.start(options), {
      url: proxy.url,
      app: env.app,
      token: token(alice),
      channels,
    });
    await shows(page, "state", "connected");
    await shows(page, "feed-state", "subscribed");

    // usePublications keeps the latest `limit` (3), each once despite StrictMode's double mount.
    for (let n = 1; n <= 4; n += 1) await publish(channels.feed, { text: `p${n}` });
    await waitFor("the fourth publication", async () => (await items(page, "feed")).length === 3 && (await items(page, "feed"))[2] === "4:p4");
    assert.deepEqual(await items(page, "feed"), ["2:p2", "3:p3", "4:p4"]);

    // useMembers: the list read after the subscribe, then joins and leaves.
    await shows(page, "members", alice);
    const bobClient = await connected(bob);
    const bobRoom = bobClient.subscribe(channels.room);
    await bobRoom.ready();
    await shows(page, "members", [alice, bob].sort().join(","));
    await shows(page, "presence", `${alice}/2`);

    // useTyping: Bob's typing shows, and expires on its own (typing_timeout 500 ms).
    await bobRoom.typing();
    await shows(page, "typers", bob);
    await shows(page, "typers", "");

    // useMessages: the newest page (read once subscribed), then created,
    // edited and deleted live.
    await shows(page, "loading", "false");
    const first = await bobClient.chat.send(channels.talk, "from bob");
    await waitFor("bob's message", async () => (await items(page, "messages")).includes(`${bob}:from bob`));
    const mine = await page.evaluate(() => window.send("from the page"));
    assert.match(mine, /\S/);
    await waitFor("alice's message", async () => (await items(page, "messages")).includes(`${alice}:from the page`));
    await bobClient.chat.edit(first.id, "edited");
    await waitFor("the edit", async () => (await items(page, "messages")).includes(`${bob}:edited`));
    await bobClient.chat.delete(first.id);
    await waitFor("the delete", async () => (await items(page, "messages")).includes(`${bob}:(deleted)`));
    assert.deepEqual(await items(page, "messages"), [`${bob}:(deleted)`, `${alice}:from the page`]);
    // Alice's own message moved her read marker past everything: nothing unread.
    await shows(page, "unread", "0");
    // The two hooks on the talk channel share one subscription, and
    // useChannelEvent's handler runs once per event, StrictMode or not:
    // two messages, an edit, a delete.
    await shows(page, "events", "4");

    // A network failure: the page reconnects, the hooks recover what
    // happened meanwhile (a message replayed, Bob's leave read again).
    proxy.down();
    await shows(page, "state", "connecting");
    await bobClient.chat.send(channels.talk, "while you were away");
    await bobRoom.unsubscribe();
    proxy.up();
    await shows(page, "state", "connected");
    await waitFor("the missed message", async () => (await items(page, "messages")).includes(`${bob}:while you were away`));
    await shows(page, "members", alice);
    await shows(page, "presence", `${alice}/1`);
    // useUnread read the counts again: Bob's message is unread.
    await shows(page, "unread", "1");
    assert.deepEqual(await items(page, "messages"), [`${bob}:(deleted)`, `${alice}:from the page`, `${bob}:while you were away`]);

    // Unmounting gives every lease back: the page leaves the room.
    await page.evaluate(() => window.unmount());
    await waitFor("alice to leave the room", async () => {
      const presence = await api("GET", `/api/v1/presence?channel=${encodeURIComponent(channels.room)}`);
      return presence.members.length === 0;
    });
    assert.deepEqual(pageErrors, []);
    await page.close();
  });
}
