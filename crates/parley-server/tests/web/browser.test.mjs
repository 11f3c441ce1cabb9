// The demo chat and the admin UI in Debian's Chromium (driven by
// playwright-core), against the Parley that tests/js/web_browser.rs started
// with the demo on. Two guests chat in one room; the second guest's page
// goes through a TCP proxy that fails the network while the first keeps
// talking; an operator signs in to the admin UI, sees the connections and
// the room, resolves a report and bans a guest.
//
// Environment: PARLEY_URL (http://host:port), PARLEY_API_KEY,
// PARLEY_CHROMIUM (the browser), PARLEY_PLAYWRIGHT_FROM (a package.json
// whose node_modules hold playwright-core).

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import net from "node:net";
import { after, before, test } from "node:test";

const require = createRequire(process.env.PARLEY_PLAYWRIGHT_FROM);
const { chromium } = require("playwright-core");

const SERVER = new URL(process.env.PARLEY_URL);
const API_KEY = process.env.PARLEY_API_KEY;
/** Every wait's limit: generous, as the machine may be busy. */
const WAIT_MS = 20_000;
const ROOM = `room-${Date.now().toString(36)}`;
const CHANNEL = `demo:${ROOM}`;

let browser;
let proxy;
/** @type {Record<string, import("playwright-core").Page>} */
const pages = {};
/** Problems the pages reported: uncaught errors, console errors (CSP). */
const problems = [];

/**
 * A TCP proxy to the server that can fail the network: `block()` drops
 * every connection through it and refuses new ones until `unblock()`.
 */
function startProxy() {
  const sockets = new Set();
  let blocked = false;
  const server = net.createServer((client) => {
    if (blocked) {
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(SERVER.port), SERVER.hostname);
    for (const [from, to] of [[client, upstream], [upstream, client]]) {
      sockets.add(from);
      from.pipe(to);
      from.on("error", () => to.destroy());
      from.on("close", () => {
        sockets.delete(from);
        to.destroy();
      });
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    block() {
      blocked = true;
      for (const socket of sockets) socket.destroy();
    },
    unblock() {
      blocked = false;
    },
    close: () => new Promise((done) => {
      for (const socket of sockets) socket.destroy();
      server.close(done);
    }),
  })));
}

async function newPage(label) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on("pageerror", (error) => problems.push(`${label}: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    // A dropped network is expected to log failed connections, and the
    // wrong API key tried on purpose its 401.
    if (/ERR_CONNECTION|ERR_EMPTY_RESPONSE|WebSocket connection to .* failed/.test(text)) return;
    if (label === "admin" && text.includes("status of 401")) return;
    problems.push(`${label}: ${text}`);
  });
  return page;
}

async function join(page, origin, name) {
  await page.goto(`${origin}/demo`);
  await page.fill("#join-name", name);
  await page.fill("#join-room", ROOM);
  await page.click("#join button[type=submit]");
  await page.locator("#connection", { hasText: "Connected" }).waitFor();
}

async function send(page, text) {
  await page.fill("#composer-text", text);
  await page.press("#composer-text", "Enter");
  await page.locator("#message-list li", { hasText: text }).waitFor();
}

const message = (page, text) => page.locator("#message-list li", { hasText: text });

before(async () => {
  proxy = await startProxy();
  browser = await chromium.launch({
    executablePath: process.env.PARLEY_CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  pages.ann = await newPage("Ann");
  pages.bob = await newPage("Bob");
  pages.admin = await newPage("admin");
});

after(async () => {
  await browser?.close();
  await proxy?.close();
});

test("two guests join a room and see each other present", async () => {
  await join(pages.ann, SERVER.origin, "Ann");
  // Bob's page and its WebSocket go through the proxy.
  await join(pages.bob, proxy.url, "Bob");
  for (const page of [pages.ann, pages.bob]) {
    await page.locator("#people-count", { hasText: "2" }).waitFor();
    await page.locator("#people-list li", { hasText: "Ann" }).waitFor();
    await page.locator("#people-list li", { hasText: "Bob" }).waitFor();
  }
});

test("a message, a reaction and the typing indicator reach the other guest", async () => {
  await send(pages.ann, "hello from Ann");
  await message(pages.bob, "hello from Ann").waitFor();
  // The name comes from Ann's token, stored with the message.
  await message(pages.bob, "hello from Ann").locator(".author", { hasText: "Ann" }).waitFor();

  await message(pages.bob, "hello from Ann").locator("button.reaction", { hasText: "👍" }).click();
  const reaction = message(pages.ann, "hello from Ann").locator("button.reaction", { hasText: "👍 1" });
  await reaction.waitFor();
  assert.equal(await reaction.getAttribute("aria-pressed"), "false", "Ann did not react herself");
  const own = message(pages.bob, "hello from Ann").locator("button.reaction", { hasText: "👍 1" });
  await own.waitFor();
  assert.equal(await own.getAttribute("aria-pressed"), "true");

  await pages.ann.locator("#composer-text").pressSequentially("typing", { delay: 20 });
  await pages.bob.locator("#typing", { hasText: "Ann is typing…" }).waitFor();
  await pages.ann.fill("#composer-text", "");
});

test("a guest whose network fails gets the missed messages in order when it comes back", async () => {
  proxy.block();
  await pages.bob.locator("#connection", { hasText: "Reconnecting…" }).waitFor();
  const missed = ["missed one", "missed two", "missed three"];
  for (const text of missed) await send(pages.ann, text);
  proxy.unblock();

  await pages.bob.locator("#connection", { hasText: "Recovered 3 missed messages" }).waitFor();
  for (const text of missed) await message(pages.bob, text).waitFor();
  const texts = await pages.bob.locator("#message-list li .text").allTextContents();
  assert.deepEqual(texts, ["hello from Ann", ...missed]);
  const offsets = await pages.bob.locator("#message-list li").evaluateAll((items) => items.map((item) => Number(item.dataset.offset)));
  assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b));
});

test("a reply, an edit and a delete reach the other guest", async () => {
  await message(pages.bob, "missed three").locator("button", { hasText: "Reply" }).click();
  await pages.bob.locator("#composer-context", { hasText: "Replying to Ann" }).waitFor();
  await send(pages.bob, "got them all");
  await message(pages.ann, "got them all").locator(".reply-quote", { hasText: "Ann: missed three" }).waitFor();

  await message(pages.ann, "missed two").locator("button", { hasText: "Edit" }).click();
  await pages.ann.fill("#composer-text", "missed two, edited");
  await pages.ann.press("#composer-text", "Enter");
  await message(pages.bob, "missed two, edited").locator(".stamp", { hasText: "(edited)" }).waitFor();

  const doomed = message(pages.ann, "missed one").locator("button", { hasText: "Delete" });
  await doomed.click();
  await message(pages.ann, "missed one").locator("button", { hasText: "Really delete?" }).click();
  await message(pages.bob, "This message was deleted.").waitFor();
  assert.equal(await message(pages.bob, "missed one").count(), 0);
  // Nobody may edit or delete another's message: the buttons are not offered.
  assert.equal(await message(pages.bob, "missed two, edited").locator("button", { hasText: "Edit" }).count(), 0);
});

test("the admin UI shows the live connections and the room's channel", async () => {
  const admin = pages.admin;
  await admin.goto(`${SERVER.origin}/admin`);
  await admin.fill("#api-key", "not-the-key");
  await admin.click("#sign-in button[type=submit]");
  await admin.locator("#sign-in-error", { hasText: "401: unknown API key" }).waitFor();

  await admin.fill("#api-key", API_KEY);
  await admin.click("#sign-in button[type=submit]");
  await admin.locator('[data-figure="connections"] dd', { hasText: /^2$/ }).waitFor();
  assert.equal(await admin.evaluate((key) => location.href.includes(key), API_KEY), false, "the key is never in the URL");

  await admin.click('nav a[href="#/channels"]');
  const row = admin.locator("#channels tr", { hasText: CHANNEL });
  await row.waitFor();
  assert.match(await row.textContent(), /2/);
  await row.locator("a").click();
  await admin.locator("#channel-presence tr", { hasText: "Bob" }).waitFor();
  await admin.locator("#channel-messages tr", { hasText: "missed three" }).waitFor();
});

test("a report filed in the demo reaches the queue and is resolved", async () => {
  await send(pages.bob, "buy cheap watches");
  await message(pages.ann, "buy cheap watches").locator("button", { hasText: "Report" }).click();
  await pages.ann.fill("#report-reason", "spam");
  await pages.ann.click("#report-form button[type=submit]");
  await pages.ann.locator("#room-notice", { hasText: "the moderators will look at it" }).waitFor();

  const admin = pages.admin;
  await admin.click('nav a[href="#/reports"]');
  const row = admin.locator("#reports tr", { hasText: "spam" });
  await row.waitFor();
  assert.match(await row.textContent(), new RegExp(CHANNEL));
  await row.locator("button", { hasText: "Hide" }).click();
  await admin.locator("#reports", { hasText: "No reports." }).waitFor();
  await admin.selectOption("select[name=status]", "resolved");
  await admin.locator("form.inline-form button[type=submit]").first().click();
  await admin.locator("#reports tr", { hasText: "hide by system" }).waitFor();
  // The hidden message is hidden for the guests too.
  await message(pages.ann, "Hidden by a moderator.").waitFor();
});

test("a guest banned from the admin UI is told on their page", async () => {
  const bobId = (await pages.bob.locator("#you-id").textContent()).trim();
  assert.match(bobId, /^guest-/);
  const admin = pages.admin;
  await admin.click('nav a[href="#/moderation"]');
  await admin.fill("input[name=user]", bobId);
  await admin.fill("input[name=channel]", CHANNEL);
  await admin.selectOption("select[name=kind]", "ban");
  await admin.click("#restrict-form button[type=submit]");
  await admin.locator("#restrictions tr", { hasText: bobId }).waitFor();

  await pages.bob.locator("#connection", { hasText: "You were banned from this room." }).waitFor();
  assert.equal(await pages.bob.locator("#composer-text").isDisabled(), true);
  // Ann stays, and sees Bob leave.
  await pages.ann.locator("#people-count", { hasText: /^1$/ }).waitFor();
});

test("no page reported an error or a blocked resource", () => {
  assert.deepEqual(problems, []);
});
