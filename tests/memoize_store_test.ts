/**
 * memoize's prefix registry is per store, not per cache instance: two instances over one
 * store (one directory, one Redis database and prefix, …) refuse a second function under a
 * used prefix, as one instance does (review finding 6).
 */
import assert from "node:assert/strict";
import {
  type Cache,
  DenoKvCache,
  FileSystemCache,
  MemcachedCache,
  memoize,
  MemoryCache,
  RedisCache,
  UwsgiCache,
} from "../mod.ts";
import { serverTest } from "./servers.ts";

/** Two different functions both named `load`, as two modules of one program would have. */
function loaders() {
  const users = { load: (id: number) => `user ${id}` }.load;
  const orders = { load: (id: number) => `order ${id}` }.load;
  return [users, orders] as const;
}

async function refusesAcross(same: [Cache, Cache], other: Cache): Promise<void> {
  const [users, orders] = loaders();
  const a = memoize(users, { cache: same[0] });
  assert.throws(() => memoize(orders, { cache: same[1] }), {
    name: "TypeError",
    message: /prefix "load" is already used on this cache by another function/,
  });
  // the same function again, and another store, are fine
  memoize(users, { cache: same[1] });
  const b = memoize(orders, { cache: other });
  assert.equal(await a(1), "user 1");
  assert.equal(await b(1), "order 1");
}

Deno.test("memoize: two FileSystemCaches on one directory share the prefix registry", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cachelib_memo_store_" });
  const otherDir = await Deno.makeTempDir({ prefix: "cachelib_memo_store_" });
  try {
    await using one = new FileSystemCache({ dir });
    // the same directory under another spelling
    await using two = new FileSystemCache({ dir: `${dir}/../${dir.split("/").pop()}` });
    await using other = new FileSystemCache({ dir: otherDir });
    await refusesAcross([one, two], other);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(otherDir, { recursive: true });
  }
});

Deno.test("memoize: two DenoKvCaches on one path and prefix share the prefix registry", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cachelib_memo_kv_" });
  try {
    const path = `${dir}/kv.sqlite`;
    await using one = new DenoKvCache({ path, prefix: ["app"] });
    await using two = new DenoKvCache({ path, prefix: ["app"] });
    await using other = new DenoKvCache({ path, prefix: ["app2"] });
    await refusesAcross([one, two], other);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("memoize: two MemoryCaches are two stores", () => {
  const [users, orders] = loaders();
  memoize(users, { cache: new MemoryCache() });
  memoize(orders, { cache: new MemoryCache() });
});

serverTest(
  "memoize: two RedisCaches on one database and prefix share the prefix registry",
  ["redis"],
  async (_t, [server]) => {
    await using one = new RedisCache({ url: server!.url, keyPrefix: "app:" });
    // the same server and database, spelled with an explicit db and a user
    await using two = new RedisCache({
      url: `redis://default@${server!.address}/0`,
      keyPrefix: "app:",
    });
    await using other = new RedisCache({ url: server!.url, keyPrefix: "other:" });
    await refusesAcross([one, two], other);
  },
);

serverTest(
  "memoize: two MemcachedCaches on one server and prefix share the prefix registry",
  ["memcached"],
  async (_t, [server]) => {
    await using one = new MemcachedCache({ servers: server!.address, keyPrefix: "app:" });
    await using two = new MemcachedCache({ servers: [server!.address], keyPrefix: "app:" });
    await using other = new MemcachedCache({ servers: server!.address, keyPrefix: "other:" });
    await refusesAcross([one, two], other);
  },
);

serverTest(
  "memoize: two UwsgiCaches on one server and cache share the prefix registry",
  ["uwsgi"],
  async (_t, [server]) => {
    const options = { server: server!.address, cache: server!.cacheName };
    await using one = new UwsgiCache(options);
    await using two = new UwsgiCache({ ...options });
    await using other = new MemoryCache();
    await refusesAcross([one, two], other);
  },
);

Deno.test("memoize hit path over MemoryCache: keys stay exact, stats count once, close still rejects", async () => {
  let runs = 0;
  const cache = new MemoryCache();
  const typed = memoize(function id(x: unknown) {
    runs++;
    return typeof x === "number" && Object.is(x, -0) ? "minus zero" : `${typeof x} ${String(x)}`;
  }, { cache, typed: true });
  for (let round = 0; round < 3; round++) {
    assert.deepEqual(
      await Promise.all([typed(1), typed("1"), typed(0), typed(-0), typed(NaN)]),
      ["number 1", "string 1", "number 0", "minus zero", "number NaN"],
    );
  }
  assert.equal(runs, 5);
  assert.deepEqual(cache.stats(), { hits: 10, misses: 5, sets: 5, deletes: 0, evictions: 0 });
  assert.equal(typed.keyFor(-0), "id(-0)");
  await cache.close();
  await assert.rejects(typed(1), { name: "CacheError", message: /closed/ });
});
