// Presence (join, leave, members, counts, state), typing indicators and
// user status, as two users see them.

import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { client, closeAll, connected, next, NetworkProxy, record, token, unique, waitFor } from "./helpers.mjs";

let proxy;

afterEach(async () => {
  closeAll();
  await proxy?.close();
  proxy = undefined;
});

test("members join and leave, list, count and update their state", async () => {
  const channel = unique("room:");
  const aliceId = unique("alice");
  const bobId = unique("bob");
  const alice = await connected(aliceId);
  const bob = await connected(bobId);
  const aliceRoom = alice.subscribe(channel, { state: { page: 1 } });
  await aliceRoom.ready();
  const joins = record(aliceRoom, "join");
  const leaves = record(aliceRoom, "leave");

  const bobRoom = bob.subscribe(channel);
  await bobRoom.ready();
  await waitFor("bob's join", () => joins.some((member) => member.user === bobId));

  const page = await alice.presence(channel);
  assert.deepEqual(page.members.map((member) => member.user).sort(), [aliceId, bobId].sort());
  assert.deepEqual(page.members.find((member) => member.user === aliceId).state, { page: 1 });
  assert.deepEqual(await aliceRoom.presenceStats(), { num_users: 2, num_connections: 2, num_anonymous: 0 });

  const update = next(aliceRoom, "presence_update");
  await bobRoom.presenceUpdate({ page: 7 });
  assert.deepEqual(await update, { user: bobId, state: { page: 7 } });

  await bobRoom.unsubscribe();
  await waitFor("bob's leave", () => leaves.some((leave) => leave.user === bobId));
  await assert.rejects(bob.presence(channel), { code: 403 });
});

test("typing pushes the typers, and the SDK throttles repeated typing", async () => {
  const channel = unique("room:");
  const aliceId = unique("alice");
  const alice = await connected(aliceId);
  const bob = await connected(unique("bob"));
  const aliceRoom = alice.subscribe(channel);
  const bobRoom = bob.subscribe(channel);
  await Promise.all([aliceRoom.ready(), bobRoom.ready()]);
  const typing = record(bobRoom, "typing");

  assert.deepEqual(await aliceRoom.typing(), { throttled: false });
  assert.deepEqual(await aliceRoom.typing(), { throttled: true }, "a second keystroke within 2 s is not sent");
  await waitFor("alice typing", () => typing.some((users) => users.some((typer) => typer.user === aliceId)));
  await aliceRoom.typing(false);
  await waitFor("nobody typing", () => typing.at(-1)?.length === 0);
});

test("status: away and back is pushed on the status channel and answered by userStatus", async () => {
  const bobId = unique("bob");
  const alice = await connected(unique("alice"));
  const bob = await connected(bobId);
  const watch = alice.subscribe(`status:${bobId}`);
  await watch.ready();
  const statuses = record(watch, "user_status");
  assert.equal(await bob.statusUpdate("away"), "away");
  await waitFor("bob away", () => statuses.some((status) => status.status === "away"));
  assert.deepEqual(await alice.userStatus([bobId]), [{ user: bobId, status: "away" }]);
  bob.disconnect();
  await waitFor("bob offline", () => statuses.some((status) => status.status === "offline"));
  assert.equal(typeof statuses.at(-1).last_seen, "number");
});

test("a member's state set with presenceUpdate is sent again when the SDK subscribes after a network failure", async () => {
  const channel = unique("room:");
  const bobId = unique("bob");
  const alice = await connected(unique("alice"));
  const aliceRoom = alice.subscribe(channel);
  await aliceRoom.ready();
  proxy = await NetworkProxy.start();
  const bob = client({ token: token(bobId) }, proxy.url);
  await bob.connect();
  const bobRoom = bob.subscribe(channel, { state: { page: 1 } });
  await bobRoom.ready();
  await bobRoom.presenceUpdate({ page: 9 });
  const resubscribed = next(bobRoom, "subscribed");
  proxy.cut();
  assert.equal((await resubscribed).resubscribed, true);
  const page = await alice.presence(channel);
  assert.deepEqual(page.members.find((member) => member.user === bobId).state, { page: 9 });
});

test("the members option keeps the member set current, across a reconnect too", async () => {
  const channel = unique("room:");
  const aliceId = unique("alice");
  const bobId = unique("bob");
  const carolId = unique("carol");
  const bob = await connected(bobId);
  const bobRoom = bob.subscribe(channel, { state: { page: 2 } });
  await bobRoom.ready();

  proxy = await NetworkProxy.start();
  const alice = client({ token: token(aliceId) }, proxy.url);
  await alice.connect();
  const aliceRoom = alice.subscribe(channel, { members: true });
  const users = () => [...aliceRoom.members.keys()].sort();
  // Bob was there before Alice: he comes from the member list, not a push.
  await waitFor("alice and bob in the set", () => users().join() === [aliceId, bobId].sort().join());
  assert.deepEqual(aliceRoom.members.get(bobId).state, { page: 2 });
  assert.equal(aliceRoom.members.size, 2);
  assert.equal(aliceRoom.me?.user, aliceId);

  await bobRoom.presenceUpdate({ page: 3 });
  await waitFor("bob's new state", () => aliceRoom.members.get(bobId)?.state?.page === 3);

  // Carol comes and Bob goes while Alice is cut off: the list read after
  // her subscribe again has them right.
  proxy.down();
  await waitFor("alice disconnected", () => alice.state !== "connected");
  const carol = await connected(carolId);
  await carol.subscribe(channel).ready();
  await bobRoom.unsubscribe();
  proxy.up();
  await waitFor("alice and carol in the set", () => users().join() === [aliceId, carolId].sort().join());

  const changes = record(aliceRoom, "members");
  carol.disconnect();
  await waitFor("carol gone from the set", () => users().join() === aliceId);
  assert.ok(changes.length >= 1, "a change emits `members`");
});
