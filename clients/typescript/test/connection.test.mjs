// Connecting, request errors, tokens (expired at connect, refreshed before
// expiry), "do not reconnect" close codes and request timeouts.

import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { ClientErrorCode, LocalCloseCode, ParleyError } from "../dist/index.js";
import { api, client, closeAll, connected, next, NetworkProxy, publish, record, token, unique, waitFor } from "./helpers.mjs";

afterEach(closeAll);

test("connect resolves with the session and the state events come in order", async () => {
  const user = unique("u");
  const parley = client({ token: token(user) });
  const states = record(parley, "state");
  const connectedEvent = next(parley, "connected");
  const session = await parley.connect();
  assert.equal(session.user, user);
  assert.match(session.client, /^\d+\.\d+$/);
  assert.equal((await connectedEvent).client, session.client);
  assert.equal(parley.state, "connected");
  assert.deepEqual(states, ["connecting", "connected"]);
  await parley.ping();
});

test("a refused request rejects with the server's code and message", async () => {
  const parley = await connected(unique("u"));
  await assert.rejects(parley.publish("nowhere:x", { a: 1 }), (error) => {
    assert.ok(error instanceof ParleyError);
    assert.equal(error.code, 404);
    assert.equal(error.method, "publish");
    assert.match(error.message, /unknown namespace/);
    return true;
  });
  await assert.rejects(parley.publish("readonly:x", 1), { code: 403 });
  await assert.rejects(parley.request("no_such_method"), { code: 405 });
  const subscription = parley.subscribe("inbox#somebody-else");
  const unsubscribed = next(subscription, "unsubscribed");
  await assert.rejects(subscription.ready(), { code: 403 });
  assert.equal((await unsubscribed).code, 403);
  assert.equal(subscription.state, "unsubscribed");
  assert.equal(parley.getSubscription("inbox#somebody-else"), undefined);
});

test("an invalid token stops the client with 4001 and no reconnect", async () => {
  const parley = client({ token: "not-a-jwt" });
  const disconnected = next(parley, "disconnected");
  await assert.rejects(parley.connect(), { code: ClientErrorCode.Closed });
  assert.deepEqual(await disconnected, { code: 4001, reason: "unauthorized", reconnect: false });
  assert.equal(parley.state, "disconnected");
  await assert.rejects(parley.ping(), { code: ClientErrorCode.Closed });
});

test("the server disconnecting the user (4003) is not retried", async () => {
  const user = unique("u");
  const parley = await connected(user);
  const connecting = record(parley, "connecting");
  const disconnected = next(parley, "disconnected");
  await api("POST", "/api/v1/disconnect", { user });
  const info = await disconnected;
  assert.equal(info.code, 4003);
  assert.equal(info.reconnect, false);
  assert.equal(parley.state, "disconnected");
  assert.deepEqual(connecting, []);
});

test("an expired token at connect is replaced through getToken", async () => {
  const user = unique("u");
  let calls = 0;
  const parley = client({
    token: token(user, { lifetimeSeconds: -60 }),
    getToken: async () => {
      calls += 1;
      return token(user);
    },
  });
  const session = await parley.connect();
  assert.equal(session.user, user);
  assert.equal(calls, 1);
});

test("an expired token without getToken stops the client", async () => {
  const parley = client({ token: token(unique("u"), { lifetimeSeconds: -60 }) });
  const disconnected = next(parley, "disconnected");
  await assert.rejects(parley.connect());
  const info = await disconnected;
  assert.equal(info.code, LocalCloseCode.TokenExpired);
  assert.equal(info.reconnect, false);
});

test("a short-lived token is refreshed through getToken before the server closes the connection", async () => {
  const user = unique("u");
  const expiries = [];
  const parley = client({
    getToken: async () => {
      const lifetimeSeconds = 3;
      expiries.push(Math.floor(Date.now() / 1000) + lifetimeSeconds);
      return token(user, { lifetimeSeconds });
    },
  });
  const disconnects = record(parley, "disconnected");
  const errors = record(parley, "error");
  const session = await parley.connect();
  // Without a refresh the server closes at exp + token_grace (1 s in the
  // suite); wait until the connection has outlived its first token's.
  const firstDeadline = (expiries[0] + 1) * 1000;
  await waitFor("three refreshes, past the first token's deadline", () => expiries.length >= 4 && Date.now() > firstDeadline + 500);
  assert.deepEqual(disconnects, []);
  assert.deepEqual(errors, []);
  assert.equal(parley.state, "connected");
  assert.equal(parley.session.client, session.client);
  assert.ok(parley.session.expires_at > expiries[0], "the session shows the refreshed expiry");
  await parley.ping();
});

test("a request without a reply times out, and a silent server is left for a new connection", async () => {
  const proxy = await NetworkProxy.start();
  try {
    const parley = client({ token: token(unique("u")), timeoutMs: 300 }, proxy.url);
    await parley.connect();
    proxy.freeze();
    await assert.rejects(parley.ping(), (error) => {
      assert.equal(error.code, ClientErrorCode.Timeout);
      assert.equal(error.temporary, true);
      return true;
    });
  } finally {
    await proxy.close();
  }
});

test("a connection that goes silent is given up after an unanswered ping, and made again", async () => {
  const proxy = await NetworkProxy.start();
  try {
    const parley = client({ token: token(unique("u")) }, proxy.url);
    const session = await parley.connect();
    // The suite's server pings every 2 s and waits 2 s for a pong.
    assert.equal(session.ping_interval_ms, 2000);
    const disconnected = next(parley, "disconnected");
    proxy.freeze();
    const lost = await disconnected;
    assert.deepEqual(lost, { code: LocalCloseCode.NoPong, reason: "no reply from the server", reconnect: true });
    const reconnected = next(parley, "connected");
    proxy.thaw();
    const again = await reconnected;
    assert.notEqual(again.client, session.client);
    await parley.ping();
  } finally {
    await proxy.close();
  }
});

test("a connection that does not open in time is tried again", async () => {
  const proxy = await NetworkProxy.start();
  try {
    proxy.freeze();
    const parley = client({ token: token(unique("u")), timeoutMs: 500 }, proxy.url);
    const attempts = record(parley, "connecting");
    const connecting = parley.connect();
    await waitFor("an attempt given up", () => attempts.some((attempt) => attempt.reason === "the connection did not open in time"));
    assert.equal(parley.state, "connecting");
    proxy.thaw();
    const session = await connecting;
    assert.equal(parley.state, "connected");
    assert.ok(proxy.connections >= 2, "the first, silent connection was left for another");
    assert.equal(typeof session.client, "string");
  } finally {
    await proxy.close();
  }
});

test("requests made while connecting wait for the connection", async () => {
  const parley = client({ token: token(unique("u")) });
  void parley.connect();
  const channel = unique("chat:");
  const position = await parley.publish(channel, { early: true });
  assert.equal(position.offset, 1);
});

test("a connection closed for an expired token (4300) comes back with a fresh token and recovers", async () => {
  const user = unique("u");
  let calls = 0;
  const parley = client({
    getToken: async () => {
      calls += 1;
      // The refresh (the second call) fails, so the server closes the
      // connection with 4300 once the token is past exp + token_grace.
      if (calls === 2) throw new Error("token service unavailable");
      return token(user, { lifetimeSeconds: 2 });
    },
  });
  await parley.connect();
  const channel = unique("talk:");
  const subscription = parley.subscribe(channel);
  await subscription.ready();
  const publications = record(subscription, "publication");
  const errors = record(parley, "error");
  const connections = record(parley, "connected");
  const lost = await next(parley, "disconnected");
  assert.deepEqual(lost, { code: 4300, reason: "token expired", reconnect: true });
  await publish(channel, { n: 1 });
  await waitFor("the connection made again", () => connections.length === 1);
  await waitFor("the publication made while the token had expired", () => publications.length === 1);
  assert.ok(calls >= 3);
  assert.ok(errors.some((error) => error.code === ClientErrorCode.TokenUnavailable));
});
