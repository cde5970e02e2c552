import assert from "node:assert/strict";
import { runConformance } from "../testing.ts";
import { serverTest } from "./servers.ts";
import { type Cache, FileSystemCache, MemoryCache, RedisCache } from "../mod.ts";
import { generationKey } from "../backends/_namespace.ts";
import { checkNoBookkeepingListed } from "./fixtures/bookkeeping.ts";

Deno.test("a namespace over MemoryCache conforms", async (t) => {
  await runConformance(t, {
    name: "MemoryCache.namespace",
    make: ({ defaultTtl, now }) => new MemoryCache({ defaultTtl, now }).namespace("users"),
    makeSibling: (cache) => (cache as unknown as { parent: Cache }).parent.namespace("orders"),
    quirks: { clearScope: "namespace" },
  });
});

Deno.test("a namespace over FileSystemCache conforms", async (t) => {
  const root = await Deno.makeTempDir();
  try {
    await runConformance(t, {
      name: "FileSystemCache.namespace",
      quirks: { clearScope: "namespace" },
      make: ({ defaultTtl, now }) =>
        new FileSystemCache({ dir: `${root}/${crypto.randomUUID()}`, defaultTtl, now })
          .namespace("users"),
      makeSibling: (cache) => (cache as unknown as { parent: Cache }).parent.namespace("orders"),
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

serverTest("a namespace over RedisCache conforms", "redis", async (t, [redis]) => {
  await runConformance(t, {
    name: "RedisCache.namespace",
    make: ({ defaultTtl }) =>
      new RedisCache({ url: redis!.url, keyPrefix: `test:${crypto.randomUUID()}:`, defaultTtl })
        .namespace("users"),
    makeSibling: (cache) => (cache as unknown as { parent: Cache }).parent.namespace("orders"),
    quirks: { clock: "server", clearScope: "namespace" },
  });
});

Deno.test("clear() of a namespace leaves the parent and other namespaces", async () => {
  await using cache = new MemoryCache();
  const users = cache.namespace("users");
  const orders = cache.namespace("orders");
  await cache.set("k", "parent");
  await users.set("k", "user");
  await orders.set("k", "order");
  assert.equal(await users.clear(), true);
  assert.equal(await users.get("k"), undefined);
  assert.equal(await users.has("k"), false);
  assert.equal(await cache.get("k"), "parent");
  assert.equal(await orders.get("k"), "order");
  // A second view of the same name in this process sees the clear at once.
  assert.equal(await cache.namespace("users").get("k"), undefined);
  await users.set("k", "again");
  assert.equal(await cache.namespace("users").get("k"), "again");
});

Deno.test("namespaces nest, and clearing the outer one clears the inner one", async () => {
  await using cache = new MemoryCache();
  const a = cache.namespace("a");
  const ab = a.namespace("b");
  const b = cache.namespace("b");
  await ab.set("k", "a/b");
  await b.set("k", "b");
  await a.set("k", "a");
  assert.equal(await ab.get("k"), "a/b");
  assert.deepEqual(await Array.fromAsync(ab.keys()), ["k"]);
  await ab.clear();
  assert.equal(await ab.get("k"), undefined);
  assert.equal(await a.get("k"), "a");
  await ab.set("k", "a/b 2");
  await a.clear();
  assert.equal(await a.get("k"), undefined);
  // b's generation lived inside a: a fresh view of a/b starts a new generation.
  assert.equal(await cache.namespace("a").namespace("b").get("k"), undefined);
  assert.equal(await b.get("k"), "b");
});

Deno.test("names: any string, no collision between names; a non-string is a TypeError", async () => {
  await using cache = new MemoryCache();
  const plain = cache.namespace("a");
  const tricky = cache.namespace("a\u00001\u0000x");
  const empty = cache.namespace("");
  await plain.set("x", 1);
  await tricky.set("x", 2);
  await empty.set("x", 3);
  assert.deepEqual([await plain.get("x"), await tricky.get("x"), await empty.get("x")], [1, 2, 3]);
  assert.throws(
    () => cache.namespace(42 as unknown as string),
    (e) => e instanceof TypeError && e.message.includes("name must be a string, received 42"),
  );
  assert.throws(
    () => cache.namespace("a", { generationTTL: 5 } as never),
    (e) => e instanceof TypeError && e.message.includes("generationTTL"),
  );
  assert.throws(() => cache.namespace("a", { generationTtl: -1 }), RangeError);
});

Deno.test("keys() lists only the namespace's current entries", async () => {
  await using cache = new MemoryCache();
  const users = cache.namespace("users");
  await users.set("u:1", 1);
  await users.set("u:2", 2);
  await users.set("x", 3);
  await cache.set("u:3", 4);
  assert.deepEqual((await Array.fromAsync(users.keys("u:"))).sort(), ["u:1", "u:2"]);
  await users.clear();
  assert.deepEqual(await Array.fromAsync(users.keys()), []);
});

Deno.test("the generation is cached for generationTtl on the injected clock", async () => {
  let now = 1_000_000;
  await using cache = new MemoryCache({ now: () => now });
  const here = cache.namespace("users", { generationTtl: 500 });
  // Another process's clear, seen through its effect on the parent: a bumped generation.
  await here.set("k", "v");
  await cache.inc(generationKey("users"));
  assert.equal(await here.get("k"), "v"); // still within the bound
  now += 500;
  assert.equal(await here.get("k"), undefined); // past the bound: the new generation is read
});

serverTest(
  "two instances over one Redis see each other's clear within the bound",
  "redis",
  async (_t, [redis]) => {
    const keyPrefix = `test:${crypto.randomUUID()}:`;
    await using one = new RedisCache({ url: redis!.url, keyPrefix });
    await using two = new RedisCache({ url: redis!.url, keyPrefix });
    const a = one.namespace("users", { generationTtl: 200 });
    const b = two.namespace("users", { generationTtl: 200 });
    await a.set("k", "v");
    assert.equal(await b.get("k"), "v");
    await a.clear();
    assert.equal(await a.get("k"), undefined);
    // b may serve the old entry until its cached generation is older than generationTtl.
    const deadline = Date.now() + 5_000;
    let seen: unknown = "v";
    while (seen !== undefined && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      seen = await b.get("k");
    }
    assert.equal(seen, undefined);
    await b.set("k", "w");
    assert.equal(await a.get("k"), "w");
  },
);

Deno.test("keys() of a namespace view lists no bookkeeping, of its own or of views nested in it", async () => {
  await using parent = new MemoryCache();
  await parent.set("outside", 1);
  const view = parent.namespace("app");
  await checkNoBookkeepingListed(view);
  assert.deepEqual(await Array.fromAsync(parent.keys()), ["outside"], "the parent's own key only");
});
