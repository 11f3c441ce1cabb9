// Parley's Pusher compatibility suite: the real pusher-js client (as a Node
// client) and the real `pusher` server SDK against a running Parley.
//
// Environment:
//   PARLEY_HOST, PARLEY_PORT          where Parley listens (and where the
//                                     server SDK sends its requests)
//   PARLEY_PORT_B                     a second node of the same deployment
//                                     (optional): pusher-js clients then
//                                     connect to the two nodes in turn
//   PARLEY_APP_ID, PARLEY_APP_KEY,
//   PARLEY_APP_SECRET                 the app's Pusher credentials
//   PARLEY_ENCRYPTION_KEY             base64 32-byte master key (optional)
//   COMPAT_PORT                       where this script serves its auth
//                                     endpoints and its webhook receiver
//                                     (Parley's webhook URL points here)
//
// Every step has a time limit; the script prints one line per step and
// exits 0 only when every step passed.

import http from "node:http";
import { once } from "node:events";
import assert from "node:assert/strict";
import Pusher from "pusher";
import PusherJS from "pusher-js";

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return value;
};

const HOST = env("PARLEY_HOST", "127.0.0.1");
const PORT = Number(env("PARLEY_PORT"));
// The nodes pusher-js clients connect to, in turn: with two, the first
// client of a step is on one node and the second on the other.
const CLIENT_PORTS = process.env.PARLEY_PORT_B ? [PORT, Number(process.env.PARLEY_PORT_B)] : [PORT];
let connections = 0;
const APP_ID = env("PARLEY_APP_ID");
const KEY = env("PARLEY_APP_KEY");
const SECRET = env("PARLEY_APP_SECRET");
const ENCRYPTION_KEY = process.env.PARLEY_ENCRYPTION_KEY;
const COMPAT_PORT = Number(env("COMPAT_PORT"));
const STEP_TIMEOUT = 15_000;

// The server SDK, pointed at Parley.
const sdk = new Pusher({
  appId: APP_ID,
  key: KEY,
  secret: SECRET,
  host: HOST,
  port: String(PORT),
  useTLS: false,
  ...(ENCRYPTION_KEY ? { encryptionMasterKeyBase64: ENCRYPTION_KEY } : {}),
});

// ---------------------------------------------------------------- helpers

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with the first value `register(resolve)` hands over, or fails. */
function within(ms, what, register) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    register((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/** Waits for `event` on a pusher-js channel (or other binder). */
const next = (binder, event, ms = 5000) =>
  within(ms, event, (done) => {
    const handler = (data) => {
      binder.unbind(event, handler);
      done(data);
    };
    binder.bind(event, handler);
  });

/** Whether `event` stays silent on `binder` for `ms`. */
async function silent(binder, event, ms) {
  let heard = null;
  const handler = (data) => {
    heard = data ?? true;
  };
  binder.bind(event, handler);
  await sleep(ms);
  binder.unbind(event, handler);
  return heard === null;
}

const clients = [];

/** A connected pusher-js client for `user` (who the auth endpoint signs as). */
async function connect(user = "anonymous", watchlist = []) {
  const params = { user_id: user, watchlist: watchlist.join(",") };
  const port = CLIENT_PORTS[connections++ % CLIENT_PORTS.length];
  const client = new PusherJS(KEY, {
    cluster: "mt1",
    wsHost: HOST,
    wsPort: port,
    forceTLS: false,
    enabledTransports: ["ws"],
    disableStats: true,
    channelAuthorization: {
      endpoint: `http://127.0.0.1:${COMPAT_PORT}/pusher/auth`,
      transport: "ajax",
      params,
    },
    userAuthentication: {
      endpoint: `http://127.0.0.1:${COMPAT_PORT}/pusher/user-auth`,
      transport: "ajax",
      params,
    },
  });
  clients.push(client);
  await within(5000, "connected", (done) => {
    client.connection.bind("connected", () => done());
  });
  return client;
}

async function subscribe(client, name) {
  const channel = client.subscribe(name);
  const result = await within(5000, `subscription to ${name}`, (done) => {
    channel.bind("pusher:subscription_succeeded", (data) => done({ ok: true, data }));
    channel.bind("pusher:subscription_error", (error) => done({ ok: false, error }));
  });
  if (!result.ok) {
    throw new Error(`subscription to ${name} failed: ${JSON.stringify(result.error)}`);
  }
  return channel;
}

async function closed(client) {
  if (client.connection.state === "disconnected") return;
  client.disconnect();
  await within(5000, "disconnect", (done) => {
    if (client.connection.state === "disconnected") done();
    client.connection.bind("disconnected", () => done());
  });
}

/** Polls `check` until it returns a truthy value. */
async function until(what, check, ms = 8000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// ----------------------------------------- auth endpoints and webhook receiver

const webhooks = [];
const invalidWebhooks = [];

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

const server = http.createServer(async (request, response) => {
  const body = await readBody(request);
  const reply = (status, value) => {
    response.writeHead(status, { "Content-Type": "application/json" });
    response.end(JSON.stringify(value));
  };
  try {
    if (request.url === "/webhooks") {
      // The SDK's own check: X-Pusher-Key and X-Pusher-Signature over the
      // raw body.
      const webhook = sdk.webhook({ headers: request.headers, rawBody: body });
      if (!webhook.isValid()) {
        invalidWebhooks.push(body);
        return reply(401, { error: "invalid webhook" });
      }
      for (const event of webhook.getEvents()) webhooks.push(event);
      return reply(200, {});
    }
    const form = new URLSearchParams(body);
    const socketId = form.get("socket_id");
    const user = form.get("user_id");
    if (request.url === "/pusher/auth") {
      const channel = form.get("channel_name");
      const presence = channel.startsWith("presence-")
        ? { user_id: user, user_info: { name: `User ${user}` } }
        : undefined;
      return reply(200, sdk.authorizeChannel(socketId, channel, presence));
    }
    if (request.url === "/pusher/user-auth") {
      const watchlist = (form.get("watchlist") || "").split(",").filter(Boolean);
      const userData = { id: user, ...(watchlist.length ? { watchlist } : {}) };
      return reply(200, sdk.authenticateUser(socketId, userData));
    }
    reply(404, { error: "not found" });
  } catch (error) {
    reply(500, { error: String(error) });
  }
});

/** Waits until a verified webhook event matching `predicate` came in. */
const webhook = (what, predicate, ms = 10_000) =>
  until(`webhook ${what}`, () => webhooks.find(predicate), ms);

// ------------------------------------------------------------------ steps

const steps = [];
const step = (name, run) => steps.push({ name, run });

step("public channel: an SDK trigger reaches a subscriber", async () => {
  const client = await connect();
  const channel = await subscribe(client, "news");
  const received = next(channel, "headline");
  await sdk.trigger("news", "headline", { title: "hello" });
  assert.deepEqual(await received, { title: "hello" });
  await closed(client);
});

step("socket_id exclusion: the named connection does not get the event", async () => {
  const a = await connect();
  const b = await connect();
  const channelA = await subscribe(a, "updates");
  const channelB = await subscribe(b, "updates");
  const atB = next(channelB, "tick");
  const quietAtA = silent(channelA, "tick", 800);
  await sdk.trigger("updates", "tick", { n: 1 }, { socket_id: a.connection.socket_id });
  assert.deepEqual(await atB, { n: 1 });
  assert.ok(await quietAtA, "the excluded socket received the event");
  await closed(a);
  await closed(b);
});

step("private channel through the auth endpoint", async () => {
  const client = await connect("alice");
  const channel = await subscribe(client, "private-orders");
  const received = next(channel, "created");
  await sdk.trigger("private-orders", "created", { id: 7 });
  assert.deepEqual(await received, { id: 7 });
  await closed(client);
});

step("presence: members per user, two connections of one user", async () => {
  const alice1 = await connect("alice");
  const roomA1 = await subscribe(alice1, "presence-room");
  assert.equal(roomA1.members.count, 1);
  assert.deepEqual(roomA1.members.me.info, { name: "User alice" });

  const bob = await connect("bob");
  const addedAtAlice = next(roomA1, "pusher:member_added");
  const roomB = await subscribe(bob, "presence-room");
  const added = await addedAtAlice;
  assert.equal(added.id, "bob");
  assert.deepEqual(added.info, { name: "User bob" });
  assert.equal(roomB.members.count, 2);

  // Alice's second connection: nobody hears of a new member.
  const noAdd = silent(roomB, "pusher:member_added", 800);
  const alice2 = await connect("alice");
  const roomA2 = await subscribe(alice2, "presence-room");
  assert.equal(roomA2.members.count, 2);
  assert.ok(await noAdd, "a second connection of alice was announced as a member");

  // One of alice's connections leaves: she is still there.
  const noRemove = silent(roomB, "pusher:member_removed", 800);
  await closed(alice2);
  assert.ok(await noRemove, "alice was removed while a connection of hers remained");
  assert.equal(roomB.members.count, 2);

  // Her last connection leaves: now she is gone.
  const removed = next(roomB, "pusher:member_removed");
  await closed(alice1);
  assert.equal((await removed).id, "alice");
  assert.equal(roomB.members.count, 1);
  await closed(bob);
});

step("client events: relayed to others, never echoed, user_id on presence", async () => {
  const a = await connect("carl");
  const b = await connect("dora");
  const chatA = await subscribe(a, "presence-chat");
  const chatB = await subscribe(b, "presence-chat");
  const atB = within(5000, "client-typing", (done) =>
    chatB.bind("client-typing", (data, metadata) => done({ data, metadata })),
  );
  const quietAtA = silent(chatA, "client-typing", 800);
  assert.ok(chatA.trigger("client-typing", { typing: true }));
  const heard = await atB;
  assert.deepEqual(heard.data, { typing: true });
  assert.equal(heard.metadata.user_id, "carl");
  assert.ok(await quietAtA, "the sender heard its own client event");
  await webhook("client_event", (e) => e.name === "client_event" && e.event === "client-typing");
  await closed(a);
  await closed(b);
});

step("channel info and users through the SDK", async () => {
  const a1 = await connect("erin");
  const a2 = await connect("erin");
  const b = await connect("finn");
  await subscribe(a1, "presence-lobby");
  await subscribe(a2, "presence-lobby");
  await subscribe(b, "presence-lobby");

  const info = await (
    await sdk.get({
      path: "/channels/presence-lobby",
      params: { info: "user_count,subscription_count" },
    })
  ).json();
  assert.equal(info.occupied, true);
  assert.equal(info.user_count, 2, "user_count counts users, not connections");
  assert.equal(info.subscription_count, 3);

  const list = await (
    await sdk.get({ path: "/channels", params: { filter_by_prefix: "presence-", info: "user_count" } })
  ).json();
  assert.equal(list.channels["presence-lobby"].user_count, 2);

  const users = await (await sdk.get({ path: "/channels/presence-lobby/users" })).json();
  assert.deepEqual(users.users.map((u) => u.id).sort(), ["erin", "finn"]);

  const triggered = await (
    await sdk.trigger("presence-lobby", "ping", {}, { info: "user_count,subscription_count" })
  ).json();
  assert.equal(triggered.channels["presence-lobby"].user_count, 2);
  for (const client of [a1, a2, b]) await closed(client);
});

step("sign-in and sendToUser", async () => {
  const client = await connect("gina");
  client.signin();
  await until("the server-to-user channel", () => client.user.serverToUserChannel?.subscribed);
  const received = next(client.user, "notice");
  await sdk.sendToUser("gina", "notice", { text: "for gina only" });
  assert.deepEqual(await received, { text: "for gina only" });
  await closed(client);
});

step("watchlist: online and offline of watched users", async () => {
  const watcher = await connect("hank", ["ivy"]);
  const initial = next(watcher.user.watchlist, "offline");
  watcher.signin();
  assert.deepEqual((await initial).user_ids, ["ivy"]);

  const online = next(watcher.user.watchlist, "online");
  const ivy = await connect("ivy");
  ivy.signin();
  assert.deepEqual((await online).user_ids, ["ivy"]);

  const offline = next(watcher.user.watchlist, "offline");
  await closed(ivy);
  assert.deepEqual((await offline).user_ids, ["ivy"]);
  await closed(watcher);
});

step("terminate connections closes every connection of the user", async () => {
  const first = await connect("jack");
  const second = await connect("jack");
  const bystander = await connect("kate");
  for (const client of [first, second, bystander]) client.signin();
  for (const client of [first, second, bystander]) {
    await until("sign-in", () => client.user.user_data);
  }
  const gone = (client) =>
    within(5000, "the connection to close", (done) => {
      client.connection.bind("state_change", ({ current }) => {
        if (current !== "connected") done(current);
      });
    });
  const closing = [gone(first), gone(second)];
  await sdk.terminateUserConnections("jack");
  await Promise.all(closing);
  await sleep(300);
  assert.equal(bystander.connection.state, "connected");
  for (const client of [first, second, bystander]) await closed(client);
});

step("cache channels: last event replayed, or cache_miss", async () => {
  await sdk.trigger("cache-weather", "forecast", { sky: "clear" });
  const client = await connect();
  const channel = client.subscribe("cache-weather");
  assert.deepEqual(await next(channel, "forecast"), { sky: "clear" });

  const empty = client.subscribe("cache-empty");
  await next(empty, "pusher:cache_miss");
  await webhook("cache_miss", (e) => e.name === "cache_miss" && e.channel === "cache-empty");
  await closed(client);
});

step("subscription counting: channel.subscriptionCount follows the subscribers", async () => {
  const a = await connect();
  const channelA = a.subscribe("counted");
  assert.deepEqual(await next(channelA, "pusher:subscription_count"), { subscription_count: 1 });
  assert.equal(channelA.subscriptionCount, 1);
  const b = await connect();
  const secondAtA = next(channelA, "pusher:subscription_count");
  await subscribe(b, "counted");
  assert.deepEqual(await secondAtA, { subscription_count: 2 });
  assert.equal(channelA.subscriptionCount, 2);
  await closed(b);
  await until("the count back at 1", () => channelA.subscriptionCount === 1);
  await closed(a);
});

step("encrypted channel: payloads relayed untouched", async () => {
  if (!ENCRYPTION_KEY) throw new Error("PARLEY_ENCRYPTION_KEY is not set");
  const client = await connect("lena");
  const channel = await subscribe(client, "private-encrypted-vault");
  const received = next(channel, "secret");
  await sdk.trigger("private-encrypted-vault", "secret", { code: 1234 });
  assert.deepEqual(await received, { code: 1234 });
  await closed(client);
});

step("webhooks: occupied, member added/removed, vacated, signed", async () => {
  const client = await connect("mona");
  await subscribe(client, "presence-webhooks");
  await webhook("channel_occupied", (e) => e.name === "channel_occupied" && e.channel === "presence-webhooks");
  await webhook(
    "member_added",
    (e) => e.name === "member_added" && e.channel === "presence-webhooks" && e.user_id === "mona",
  );
  await closed(client);
  await webhook(
    "member_removed",
    (e) => e.name === "member_removed" && e.channel === "presence-webhooks" && e.user_id === "mona",
  );
  await webhook("channel_vacated", (e) => e.name === "channel_vacated" && e.channel === "presence-webhooks");
  assert.deepEqual(invalidWebhooks, [], "a webhook failed the SDK's signature check");
});

// ------------------------------------------------------------------- run

server.listen(COMPAT_PORT, "127.0.0.1");
await once(server, "listening");

let passed = 0;
let failed = 0;
for (const { name, run } of steps) {
  try {
    await Promise.race([
      run(),
      sleep(STEP_TIMEOUT).then(() => {
        throw new Error(`step took longer than ${STEP_TIMEOUT} ms`);
      }),
    ]);
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`not ok - ${name}\n  ${String(error?.stack ?? error).replaceAll("\n", "\n  ")}`);
  }
}
for (const client of clients) client.disconnect();
server.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
