// Live documents: a user's devices share their watch progress, a
// "continue watching" live query keeps itself current, and stays current
// across a reconnect (the SDK watches again and takes the fresh result);
// compare-and-set and atomic increments.

import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { client, closeAll, connected, NetworkProxy, next, token, unique, waitFor } from "./helpers.mjs";

let proxy;

afterEach(async () => {
  closeAll();
  await proxy?.close();
  proxy = undefined;
});

const keys = (documents) => documents.map((document) => document.key);

test("a continue-watching row stays current across devices and a reconnect", async () => {
  const user = unique("viewer");
  const channel = `progress:watch#${user}`;
  proxy = await NetworkProxy.start();
  const tv = client({ token: token(user) }, proxy.url);
  await tv.connect();
  const phone = await connected(user);
  let clock = 0;
  const report = (key, completion) =>
    phone.documents(channel).merge(key, { completion, watched_at: (clock += 1) });

  await report("ep1", 40);
  const row = tv.documents(channel).watch({
    where: { completion: { lt: 90 } },
    order: "watched_at:desc",
    limit: 20,
  });
  assert.deepEqual(keys(await row.ready()), ["ep1"]);

  await report("ep2", 5);
  await waitFor("ep2 in the row", () => keys(row.result).join() === "ep2,ep1");
  await report("ep1", 95);
  await waitFor("ep1 finished and gone", () => keys(row.result).join() === "ep2");

  // The TV loses its network; the phone goes on.
  const disconnected = next(tv, "disconnected");
  proxy.down();
  await disconnected;
  await report("ep3", 12);
  const reconnected = next(tv, "connected");
  proxy.up();
  await reconnected;
  await waitFor("the fresh result after the reconnect", () => keys(row.result).join() === "ep3,ep2");
  // And live again.
  await report("ep2", 30);
  await waitFor("ep2 first again", () => keys(row.result).join() === "ep2,ep3");
  assert.equal(row.result[0].data.completion, 30);

  row.close();
  await report("ep4", 1);
  const page = await tv.documents(channel).list({ where: { completion: { lt: 90 } }, order: "watched_at:desc" });
  assert.deepEqual(keys(page.documents), ["ep4", "ep2", "ep3"]);
  assert.equal(keys(row.result).join(), "ep2,ep3");
});

test("compare-and-set conflicts carry the current version, and increments add up", async () => {
  const user = unique("viewer");
  const channel = `progress:watch#${user}`;
  const parley = await connected(user);
  const documents = parley.documents(channel);
  const created = await documents.set("stats", { plays: 0 }, { ifVersion: 0 });
  assert.equal(created.version, 1);
  await assert.rejects(documents.set("stats", { plays: 7 }, { ifVersion: 0 }), (error) => {
    assert.equal(error.code, 409);
    return true;
  });
  await Promise.all(Array.from({ length: 10 }, () => documents.increment("stats", "plays")));
  const stats = await documents.get("stats");
  assert.equal(stats.data.plays, 10);
  assert.equal(stats.version, 11);
  await documents.delete("stats");
  assert.equal(await documents.get("stats"), null);
  // Another user cannot read it.
  const other = await connected(unique("other"));
  await assert.rejects(other.documents(channel).get("stats"), (error) => error.code === 403);
});
