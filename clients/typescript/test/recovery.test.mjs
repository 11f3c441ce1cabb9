// Reconnect and recovery: the network fails (a TCP proxy in front of the
// server resets the connection and refuses new ones) while publications
// continue through the HTTP API; the SDK reconnects, subscribes again with
// its stream position, and delivers every missed publication once, in
// order, or says plainly that it could not.

import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { client, closeAll, next, NetworkProxy, publish, record, token, unique, waitFor } from "./helpers.mjs";

let proxy;

afterEach(async () => {
  closeAll();
  await proxy?.close();
  proxy = undefined;
});

async function subscriberBehindProxy(channel) {
  proxy = await NetworkProxy.start();
  const parley = client({ token: token(unique("u")) }, proxy.url);
  await parley.connect();
  const subscription = parley.subscribe(channel);
  await subscription.ready();
  return { parley, subscription };
}

test("a persisted channel recovers every publication missed while the network was down, once and in order", async () => {
  const channel = unique("talk:");
  const { parley, subscription } = await subscriberBehindProxy(channel);
  const publications = record(subscription, "publication");
  const subscribedEvents = record(subscription, "subscribed");
  const disconnected = next(parley, "disconnected");

  for (let n = 1; n <= 3; n += 1) await publish(channel, { n });
  await waitFor("the live publications", () => publications.length === 3);

  proxy.down();
  const lost = await disconnected;
  assert.equal(lost.reconnect, true);
  assert.equal(subscription.state, "subscribing");
  for (let n = 4; n <= 25; n += 1) await publish(channel, { n });
  const reconnected = next(parley, "connected");
  proxy.up();
  await reconnected;
  for (let n = 26; n <= 30; n += 1) await publish(channel, { n });

  await waitFor("all 30 publications", () => publications.length >= 30);
  assert.deepEqual(
    publications.map((publication) => publication.data.n),
    Array.from({ length: 30 }, (_, i) => i + 1),
  );
  assert.deepEqual(
    publications.map((publication) => publication.offset),
    Array.from({ length: 30 }, (_, i) => i + 1),
  );
  assert.equal(subscribedEvents.length, 1);
  assert.equal(subscribedEvents[0].recovered, true);
  assert.equal(subscribedEvents[0].resubscribed, true);
  assert.equal(subscription.state, "subscribed");
  assert.ok(proxy.connections >= 2);
});

test("several network failures in a row still deliver each publication exactly once", async () => {
  const channel = unique("talk:");
  const { subscription } = await subscriberBehindProxy(channel);
  const publications = record(subscription, "publication");
  const recovered = record(subscription, "subscribed");
  let n = 0;
  for (let round = 1; round <= 3; round += 1) {
    for (let i = 0; i < 3; i += 1) await publish(channel, { n: ++n });
    proxy.cut();
    for (let i = 0; i < 3; i += 1) await publish(channel, { n: ++n });
    await waitFor(`round ${round} recovered`, () => recovered.length === round && publications.length === n);
  }
  assert.deepEqual(
    publications.map((publication) => publication.data.n),
    Array.from({ length: n }, (_, i) => i + 1),
  );
  assert.ok(recovered.every((event) => event.recovered === true));
});

test("an in-memory channel recovers what its history keeps, and says so when it cannot", async () => {
  // The feed namespace keeps the 5 newest publications in memory.
  const channel = unique("feed:");
  const { parley, subscription } = await subscriberBehindProxy(channel);
  const publications = record(subscription, "publication");
  const subscribedEvents = record(subscription, "subscribed");
  await publish(channel, { n: 1 });
  await waitFor("the live publication", () => publications.length === 1);

  proxy.down();
  await next(parley, "disconnected");
  for (let n = 2; n <= 4; n += 1) await publish(channel, { n });
  proxy.up();
  await waitFor("the recovery of 3 missed publications", () => publications.length === 4);
  assert.equal(subscribedEvents.at(-1).recovered, true);

  proxy.down();
  await next(parley, "disconnected");
  for (let n = 5; n <= 12; n += 1) await publish(channel, { n });
  proxy.up();
  await waitFor("the second resubscribe", () => subscribedEvents.length === 2);
  const lost = subscribedEvents[1];
  assert.equal(lost.recovered, false, "8 missed publications are more than the 5 kept");
  assert.equal(lost.offset, 12);
  assert.deepEqual(subscription.position, { offset: 12, epoch: lost.epoch });
  // The application reloads from history; live publications go on after the reply's offset.
  await publish(channel, { n: 13 });
  await waitFor("the next live publication", () => publications.length === 5);
  assert.deepEqual(
    publications.map((publication) => publication.data.n),
    [1, 2, 3, 4, 13],
  );
});

test("a subscription made while disconnected is made when the client connects, and a restored position is recovered", async () => {
  const channel = unique("talk:");
  for (let n = 1; n <= 5; n += 1) await publish(channel, { n });
  const parley = client({ token: token(unique("u")) });
  const subscription = parley.subscribe(channel, { since: { offset: 2, epoch: (await publish(channel, { n: 6 })).epoch } });
  const publications = record(subscription, "publication");
  assert.equal(subscription.state, "subscribing");
  await parley.connect();
  const subscribed = await subscription.ready();
  assert.equal(subscribed.recovered, true);
  assert.equal(subscribed.resubscribed, false);
  await waitFor("the replay after offset 2", () => publications.length === 4);
  assert.deepEqual(publications.map((publication) => publication.data.n), [3, 4, 5, 6]);
});

test("a chat message sent while the network is down waits in the outbox longer than the request timeout and is stored once", async () => {
  const channel = unique("talk:");
  proxy = await NetworkProxy.start();
  const parley = client({ token: token(unique("u")), timeoutMs: 500, outboxLimit: 1 }, proxy.url);
  await parley.connect();
  await parley.subscribe(channel).ready();

  proxy.down();
  await waitFor("the client to notice", () => parley.state !== "connected");
  const sent = parley.chat.send(channel, "written offline");
  const publishWhileDown = parley.publish(channel, { n: 1 });
  assert.equal(parley.outbox, 1);
  // The outbox is bounded (`outboxLimit: 1` here): a second message is refused at once.
  await assert.rejects(parley.chat.send(channel, "one too many"), { code: 7 });
  // Well past the 500 ms request timeout: the publish gives up, the message waits.
  await assert.rejects(publishWhileDown, { code: 1 });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(parley.outbox, 1);
  proxy.up();
  const message = await sent;
  assert.equal(message.text, "written offline");
  assert.equal(parley.outbox, 0);

  // On the wire when the connection is lost: sent again on the next one,
  // and the server keeps one copy (the same client_msg_id).
  proxy.freeze();
  const again = parley.chat.send(channel, "sent into a dead connection");
  await waitFor("the send on the wire", () => parley.outbox === 1);
  proxy.thaw();
  proxy.cut();
  const second = await again;
  assert.equal(second.text, "sent into a dead connection");

  const page = await parley.chat.messages(channel);
  const texts = page.messages.map((stored) => stored.text);
  assert.equal(texts.filter((text) => text === "written offline").length, 1);
  assert.equal(texts.filter((text) => text === "sent into a dead connection").length, 1);
  assert.ok(!texts.includes("one too many"));
});
