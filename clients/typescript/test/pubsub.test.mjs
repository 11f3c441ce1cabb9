// Subscribing, publishing and receiving: from the client itself and from
// the HTTP API, in order, and pushes of channels the token subscribed.

import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { api, client, closeAll, connected, next, publish, record, token, unique, waitFor } from "./helpers.mjs";

afterEach(closeAll);

test("a subscriber receives publications from clients and from the HTTP API, in order", async () => {
  const channel = unique("chat:");
  const alice = await connected(unique("alice"));
  const bob = await connected(unique("bob"));
  const subscription = alice.subscribe(channel);
  const subscribed = await subscription.ready();
  assert.equal(subscribed.channel, channel);
  assert.equal(subscribed.offset, 0);
  assert.equal(subscribed.recovered, undefined);
  assert.equal(subscription.state, "subscribed");
  const publications = record(subscription, "publication");

  const position = await bob.publish(channel, { text: "from bob" });
  assert.deepEqual(position, { offset: 1, epoch: subscribed.epoch });
  await publish(channel, { text: "from the backend" });
  await subscription.publish({ text: "from alice" });

  await waitFor("three publications", () => publications.length === 3);
  assert.deepEqual(
    publications.map((publication) => publication.data.text),
    ["from bob", "from the backend", "from alice"],
  );
  assert.deepEqual(publications.map((publication) => publication.offset), [1, 2, 3]);
  assert.equal(publications[0].kind, "publication");
  assert.equal(publications[0].info.user, bob.session.user);
  assert.equal(publications[1].info, undefined, "the HTTP API's publications carry no info");
  assert.deepEqual(subscription.position, { offset: 3, epoch: subscribed.epoch });
});

test("after unsubscribe nothing more arrives and the channel can be subscribed again", async () => {
  const channel = unique("chat:");
  const parley = await connected(unique("u"));
  const first = parley.subscribe(channel);
  await first.ready();
  assert.equal(parley.subscribe(channel), first, "subscribing twice returns the same subscription");
  const seen = record(first, "publication");
  await first.unsubscribe();
  assert.equal(first.state, "unsubscribed");
  await publish(channel, "missed on purpose");
  const second = parley.subscribe(channel);
  assert.notEqual(second, first);
  await second.ready();
  const again = next(second, "publication");
  await publish(channel, "seen");
  assert.equal((await again).data, "seen");
  assert.deepEqual(seen, []);
});

test("pushes of channels subscribed through the token's channels claim come as client push events", async () => {
  const user = unique("u");
  const inbox = `inbox#${user}`;
  const parley = client({ token: token(user, { channels: [inbox] }) });
  const session = await parley.connect();
  assert.deepEqual(session.subscriptions, [inbox]);
  const push = next(parley, "push");
  await publish(inbox, { kind: "mention" });
  const received = await push;
  assert.equal(received.push, "publication");
  assert.equal(received.channel, inbox);
  assert.deepEqual(received.data, { kind: "mention" });
});

test("history pages through a channel's kept publications", async () => {
  const channel = unique("feed:");
  const parley = await connected(unique("u"));
  for (let i = 1; i <= 4; i += 1) await publish(channel, { i });
  const page = await parley.history(channel, { limit: 2 });
  assert.deepEqual(page.publications.map((entry) => entry.data.i), [3, 4]);
  assert.equal(page.has_more, true);
  const older = await parley.history(channel, { before: page.publications[0].offset });
  assert.deepEqual(older.publications.map((entry) => entry.data.i), [1, 2]);
  assert.equal(older.has_more, false);
  const info = await api("GET", `/api/v1/history?channel=${encodeURIComponent(channel)}`);
  assert.equal(info.offset, page.offset);
});
