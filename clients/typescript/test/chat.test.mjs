// Chat in a persisted namespace: send, edit, react, delete and their
// pushes, pages of messages, idempotent resends, and refused commands.

import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { client, closeAll, connected, next, record, token, unique, waitFor } from "./helpers.mjs";

afterEach(closeAll);

test("send, edit, react and delete reach subscribers as pushes", async () => {
  const channel = unique("talk:");
  const aliceId = unique("alice");
  const alice = await connected(aliceId);
  const bob = await connected(unique("bob"));
  const room = bob.subscribe(channel);
  await room.ready();
  const events = record(room, "event");

  const sent = await alice.chat.send(channel, "hello", { meta: { kind: "greeting" } });
  assert.equal(sent.author, aliceId);
  assert.equal(sent.text, "hello");
  assert.match(sent.client_msg_id, /^c-[0-9a-f]{24}$/);
  const edited = await alice.chat.edit(sent.id, "hello, all");
  assert.equal(edited.text, "hello, all");
  assert.equal(typeof edited.edited_at, "number");
  const reaction = await bob.chat.react({ message: sent.id }, "👍");
  assert.deepEqual([reaction.count, reaction.me, reaction.changed], [1, true, true]);
  const deleted = await alice.chat.delete(sent.id);
  assert.equal(deleted.text, "");

  await waitFor("four stream events", () => events.length === 4);
  assert.deepEqual(
    events.map((event) => event.kind),
    ["message_created", "message_updated", "reaction_added", "message_deleted"],
  );
  assert.equal(events[0].data.text, "hello");
  assert.deepEqual(events[0].data.meta, { kind: "greeting" });
  assert.equal(events[1].data.text, "hello, all");
  assert.equal(events[2].data.emoji, "👍");
  assert.equal(typeof events[3].data.deleted_at, "number");
  assert.deepEqual(events.map((event) => event.offset), [1, 2, 3, 4]);
  assert.deepEqual(room.position.offset, 4);
});

test("messages pages back through a channel, and pages() walks every page", async () => {
  const channel = unique("talk:");
  const alice = await connected(unique("alice"));
  for (let i = 1; i <= 5; i += 1) await alice.chat.send(channel, `m${i}`);
  const newest = await alice.chat.messages(channel, { limit: 2 });
  assert.deepEqual(newest.messages.map((message) => message.text), ["m5", "m4"]);
  assert.equal(newest.has_older, true);
  const texts = [];
  for await (const page of alice.chat.pages(channel, { limit: 2 })) {
    texts.push(...page.messages.map((message) => message.text));
  }
  assert.deepEqual(texts, ["m5", "m4", "m3", "m2", "m1"]);
});

test("messages carry the token's name and avatar, and a page counts the channel on request", async () => {
  const channel = unique("talk:");
  const aliceId = unique("alice");
  const alice = client({ token: token(aliceId, { name: "Alice", avatar: "https://cdn.example/a.png" }) });
  await alice.connect();
  const sent = await alice.chat.send(channel, "hi", { meta: { author_name: "Mallory" } });
  assert.equal(sent.author_name, "Alice");
  assert.equal(sent.author_avatar, "https://cdn.example/a.png");
  assert.deepEqual(sent.meta, { author_name: "Mallory" });
  const doomed = await alice.chat.send(channel, "soon gone");
  await alice.chat.send(channel, "stays");
  await alice.chat.delete(doomed.id);
  const page = await alice.chat.messages(channel, { limit: 1, total: true });
  assert.equal(page.total, 2);
  assert.equal(page.messages[0].author_name, "Alice");
  assert.equal((await alice.chat.messages(channel)).total, undefined);
  assert.equal((await alice.history(channel, { total: true })).total, 2);
});

test("a resend with the same clientMsgId returns the first message", async () => {
  const channel = unique("talk:");
  const alice = await connected(unique("alice"));
  const first = await alice.chat.send(channel, "once", { clientMsgId: "retry-1" });
  const again = await alice.chat.send(channel, "once", { clientMsgId: "retry-1" });
  assert.equal(again.id, first.id);
  const page = await alice.chat.messages(channel);
  assert.equal(page.messages.length, 1);
});

test("threads, pins and read markers", async () => {
  const channel = unique("talk:");
  const alice = await connected(unique("alice"));
  const parent = await alice.chat.send(channel, "parent");
  const reply = await alice.chat.send(channel, "reply", { replyTo: parent.id });
  const thread = await alice.chat.thread(parent.id);
  assert.equal(thread.parent.id, parent.id);
  assert.deepEqual(thread.replies.map((message) => message.id), [reply.id]);
  const mark = await alice.chat.readMark(channel, reply.id);
  assert.equal(mark.unread, 0);
  const unread = await alice.chat.unread();
  assert.equal(typeof unread.unread, "number");
});

test("refused chat commands reject with the server's codes", async () => {
  const channel = unique("talk:");
  const alice = await connected(unique("alice"));
  const bob = await connected(unique("bob"));
  const message = await alice.chat.send(channel, "mine");
  await assert.rejects(bob.chat.edit(message.id, "not yours"), { code: 403 });
  await assert.rejects(alice.chat.send(channel, "x".repeat(51)), { code: 400 });
  await assert.rejects(alice.chat.send(unique("chat:"), "no persist here"), { code: 400 });
  await assert.rejects(alice.chat.editTrail(message.id), { code: 403 });
});

test("a moderator's ban ends the banned user's subscription with an unsubscribed event", async () => {
  const channel = unique("talk:");
  const bobId = unique("bob");
  const moderator = client({ token: token(unique("mod"), { roles: ["moderator"] }) });
  await moderator.connect();
  const bob = await connected(bobId);
  const room = bob.subscribe(channel);
  await room.ready();
  const ended = next(room, "unsubscribed");
  const restriction = await moderator.moderation.ban({ user: bobId, channel, duration: "1h" });
  assert.equal(restriction.kind, "ban");
  assert.deepEqual(await ended, { channel, reason: "banned" });
  assert.equal(room.state, "unsubscribed");
  await assert.rejects(bob.subscribe(channel).ready(), { code: 451 });
  assert.equal(await moderator.moderation.unban({ user: bobId, channel }), true);
});
