import assert from "node:assert/strict";
import { BaseCache, BroadcastChannelBus, MemoryCache, TieredCache } from "../mod.ts";

/** A Map-backed cache that counts its reads: `_get` and `_getMany` calls are round trips. */
class CountingCache extends BaseCache {
  readonly map = new Map<string, unknown>();
  gets = 0;
  getManys = 0;
  protected _get(key: string) {
    this.gets++;
    return this.map.get(key);
  }
  protected override _getMany(keys: readonly string[]) {
    this.getManys++;
    return keys.map((key) => this.map.get(key));
  }
  protected _set(key: string, value: unknown) {
    this.map.set(key, value);
    return true;
  }
  protected _add(key: string, value: unknown) {
    if (this.map.has(key)) return false;
    this.map.set(key, value);
    return true;
  }
  protected _delete(key: string) {
    return this.map.delete(key);
  }
  protected _has(key: string) {
    return this.map.has(key);
  }
  protected _clear() {
    this.map.clear();
    return true;
  }
  protected _addToCounter(key: string, delta: number) {
    const next = ((this.map.get(key) as number | undefined) ?? 0) + delta;
    this.map.set(key, next);
    return next;
  }
  reset() {
    this.gets = this.getManys = 0;
  }
}

Deno.test("tags: an untagged read costs no extra round trip; a tagged one costs one, batched for getMany", async () => {
  await using cache = new CountingCache();
  await cache.set("plain", { n: 1 });
  await cache.set("a", "A", { tags: ["t1", "t2"] });
  await cache.set("b", "B", { tags: ["t2", "t3"] });
  await cache.set("c", "C", { tags: ["t4"] });

  cache.reset();
  assert.deepEqual(await cache.get("plain"), { n: 1 });
  assert.deepEqual([cache.gets, cache.getManys], [1, 0]);

  cache.reset();
  assert.equal(await cache.get("a"), "A");
  assert.deepEqual([cache.gets, cache.getManys], [1, 1], "one read of both tags' versions");

  cache.reset();
  assert.deepEqual(await cache.getMany(["a", "b", "c", "plain"]), ["A", "B", "C", { n: 1 }]);
  assert.deepEqual([cache.gets, cache.getManys], [0, 2], "one getMany of entries, one of tags");

  cache.reset();
  assert.deepEqual(await cache.getMany(["plain", "missing"]), [{ n: 1 }, undefined]);
  assert.deepEqual([cache.gets, cache.getManys], [0, 1], "no tagged entry: no tag read");

  await cache.invalidateTags(["t2"]);
  assert.deepEqual(await cache.getMany(["a", "b", "c", "plain"]), [undefined, undefined, "C", {
    n: 1,
  }]);
});

Deno.test("tags: a tag's version key starts at a random value, so a re-created tag cannot revive entries", async () => {
  await using cache = new CountingCache();
  await cache.set("a", 1, { tags: ["t"] });
  const version = cache.map.get("\u0000cachelib:tag\u0000t");
  assert.equal(typeof version, "number");
  // The tag's key evicted: `inc` re-creates it at 1, which the entry's random version is not.
  cache.map.delete("\u0000cachelib:tag\u0000t");
  await cache.invalidateTags(["t"]);
  assert.equal(cache.map.get("\u0000cachelib:tag\u0000t"), 1);
  assert.equal(await cache.get("a"), undefined);
});

Deno.test("tags: a namespace view's tags are its own", async () => {
  await using parent = new MemoryCache();
  const users = parent.namespace("users");
  const posts = parent.namespace("posts");
  await users.set("1", "ada", { tags: ["t"] });
  await posts.set("1", "hello", { tags: ["t"] });
  await parent.set("1", "root", { tags: ["t"] });
  await users.invalidateTags(["t"]);
  assert.deepEqual(
    [await users.get("1"), await posts.get("1"), await parent.get("1")],
    [undefined, "hello", "root"],
  );
  assert.equal(await users.getOrSet("1", () => "again"), "again");
  await posts.set("2", "x", { tags: ["u"] });
  assert.equal(await posts.getOrSet("2", () => "produced"), "x");
});

/** Resolves after the bus has had time to deliver (a BroadcastChannel message is a task away). */
const delivered = (ms = 20) => new Promise<void>((resolve) => setTimeout(resolve, ms));

Deno.test("tags: TieredCache invalidateTags on one instance drops the entries from the other's L1", async () => {
  const shared = new MemoryCache();
  const name = `test:${crypto.randomUUID()}`;
  const make = () =>
    new TieredCache({ l1: new MemoryCache(), l2: shared, bus: new BroadcastChannelBus(name) });
  const a = make();
  const b = make();
  try {
    await a.set("u1", "ada", { ttl: 60_000, tags: ["user:1"] });
    await a.set("u2", "bob", { tags: ["user:2"] });
    await a.set("plain", "p");
    await delivered(); // a's own write messages reach b before b fills its L1
    // Now in b's L1.
    assert.deepEqual(await b.getMany(["u1", "u2", "plain"]), ["ada", "bob", "p"]);
    await a.invalidateTags(["user:1"]);
    await delivered();
    assert.deepEqual(await b.getMany(["u1", "u2", "plain"]), [undefined, "bob", "p"]);
    assert.equal(await a.get("u1"), undefined);
    await b.set("u1", "ada2", { tags: ["user:1"] });
    await delivered();
    assert.equal(await a.get("u1"), "ada2");
    await assert.rejects(a.invalidateTags("user:1" as never), TypeError);
  } finally {
    await b.close();
    await a.close();
    await shared.close();
  }
});
