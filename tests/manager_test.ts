import assert from "node:assert/strict";
import { type Cache, CacheError, CacheManager, MemoryCache, NullCache } from "../mod.ts";

Deno.test("CacheManager.cache() creates a cache from its settings on first use, then reuses it", async () => {
  await using caches = new CacheManager({
    users: { maxEntries: 3, defaultTtl: 1000 },
    off: { url: "null://" },
    sessions: { url: "memory://?maxEntries=7&defaultTtl=5000", clone: false },
  });
  const users = caches.cache("users");
  assert.ok(users instanceof MemoryCache);
  assert.equal(users.store.maxEntries, 3);
  assert.equal(users.defaultTtl, 1000);
  assert.equal(caches.cache("users"), users);
  assert.ok(caches.cache("off") instanceof NullCache);
  const sessions = caches.cache("sessions");
  assert.ok(sessions instanceof MemoryCache);
  assert.equal(sessions.store.maxEntries, 7);
  assert.equal(sessions.defaultTtl, 5000);
  const value = { n: 1 };
  await sessions.set("s", value);
  assert.equal(await sessions.get("s"), value, "clone: false from the settings reached the cache");
});

Deno.test("CacheManager.cache() of an unknown name throws without default settings", () => {
  const caches = new CacheManager({ users: {}, posts: {} });
  assert.throws(() => caches.cache("nope"), {
    name: "TypeError",
    message:
      'Cannot get cache "nope": no settings for it and no "default" settings; configured: "users", "posts"',
  });
  assert.throws(() => caches.cache(), { name: "TypeError", message: /Cannot get cache "default"/ });
  assert.throws(() => new CacheManager().cache("x"), { message: /configured: none/ });
});

Deno.test("CacheManager.cache() builds an unknown name from the default settings", async () => {
  await using caches = new CacheManager({ default: { maxEntries: 9 } });
  const a = caches.cache("a");
  const b = caches.cache("b");
  assert.ok(a instanceof MemoryCache && b instanceof MemoryCache);
  assert.notEqual(a, b);
  assert.equal(a.store.maxEntries, 9);
  assert.equal(caches.cache(), caches.cache("default"));
  assert.notEqual(caches.cache("default"), a);
});

Deno.test("CacheManager passes settings and name to a custom factory, once per name", async () => {
  const made: [string, { size: number }][] = [];
  await using caches = new CacheManager<{ size: number }>(
    { small: { size: 1 }, large: { size: 100 } },
    (options, name) => {
      made.push([name, options]);
      return new MemoryCache({ maxEntries: options.size });
    },
  );
  caches.cache("large");
  caches.cache("large");
  caches.cache("small");
  assert.deepEqual(made, [["large", { size: 100 }], ["small", { size: 1 }]]);
});

Deno.test("CacheManager.configure() rebuilds a cache with new settings and closes the old one", async () => {
  await using caches = new CacheManager({ users: { maxEntries: 2 } });
  const old = caches.cache("users");
  await old.set("a", 1);
  const fresh = await caches.configure("users", { maxEntries: 50 });
  assert.equal(caches.cache("users"), fresh);
  assert.notEqual(fresh, old);
  assert.equal((fresh as MemoryCache).store.maxEntries, 50);
  assert.equal(await fresh.get("a"), undefined);
  await assert.rejects(old.get("a"), { name: "CacheError", message: /the cache is closed/ });
  const added = await caches.configure("extra", { url: "null://" });
  assert.ok(added instanceof NullCache);
  assert.equal(caches.cache("extra"), added);
});

Deno.test("CacheManager.configure() with bad settings keeps the old settings and cache", async () => {
  await using caches = new CacheManager({ users: { maxEntries: 2 } });
  const old = caches.cache("users");
  await assert.rejects(caches.configure("users", { maxEntries: -5 }), RangeError);
  await assert.rejects(caches.configure("users", { url: "memory://?bad=1" }), {
    name: "TypeError",
    message: /unknown parameter "bad"/,
  });
  await assert.rejects(caches.configure("users", null as never), {
    name: "TypeError",
    message: /Cannot configure cache "users": settings must be an object, received null/,
  });
  assert.equal(caches.cache("users"), old);
  assert.equal(await old.set("k", 1), true);
  await assert.rejects(caches.configure("new", { maxEntries: -1 }), RangeError);
  assert.throws(() => caches.cache("new"), /no settings for it/);
});

Deno.test("CacheManager iterates every configured name, then other caches in use", async () => {
  await using caches = new CacheManager({ default: {}, a: {}, b: { url: "null://" } });
  caches.cache("extra");
  const entries = [...caches];
  assert.deepEqual(entries.map(([name]) => name), ["default", "a", "b", "extra"]);
  for (const [name, cache] of entries) assert.equal(caches.cache(name), cache);
});

Deno.test("CacheManager.clearAll() clears every cache; closeAll() closes them and starts fresh", async () => {
  const caches = new CacheManager({ a: {}, b: {} });
  const a = caches.cache("a");
  await a.set("k", 1);
  await caches.clearAll();
  assert.equal(await a.get("k"), undefined);
  const b = caches.cache("b");
  await caches.closeAll();
  for (const cache of [a, b]) {
    await assert.rejects(cache.get("k"), { name: "CacheError", message: /closed/ });
  }
  const again = caches.cache("a");
  assert.notEqual(again, a);
  assert.equal(await again.set("k", 2), true);
  await caches.closeAll();
});

Deno.test("CacheManager.closeAll() closes every cache even when one fails, then reports it", async () => {
  let closed = 0;
  const failing = (name: string): Cache => {
    const cache = new MemoryCache();
    const close = cache.close.bind(cache);
    cache.close = async () => {
      closed++;
      await close();
      if (name === "bad") throw new CacheError("Cannot close: socket stuck");
    };
    return cache;
  };
  const caches = new CacheManager({ bad: {}, good: {} }, (_options, name) => failing(name));
  caches.cache("bad");
  caches.cache("good");
  await assert.rejects(caches.closeAll(), (error: AggregateError) => {
    assert.ok(error instanceof AggregateError);
    assert.equal(error.message, "Cannot close 1 of 2 caches");
    assert.match(error.errors[0].message, /socket stuck/);
    return true;
  });
  assert.equal(closed, 2);
});

Deno.test("CacheManager rejects settings that are not objects", () => {
  assert.throws(() => new CacheManager(null as never), {
    name: "TypeError",
    message: /settings must be an object mapping names to options, received null/,
  });
  assert.throws(() => new CacheManager({ a: 5 as never }), {
    name: "TypeError",
    message: 'Cannot configure cache "a": settings must be an object, received 5',
  });
  assert.throws(() => new CacheManager({}, "memory" as never), {
    name: "TypeError",
    message: /factory must be a function, received "memory"/,
  });
});
