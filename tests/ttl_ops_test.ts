/**
 * Backend-specific cases of the TTL operations (`ttl`, `touch`, `keys`); the shared ones are
 * the conformance suite's `ttlOps` group.
 */
import assert from "node:assert/strict";
import { recorder } from "./fixtures/recorder.ts";
import { Buffer } from "node:buffer";
import { createClient } from "redis";
import { serverTest } from "./servers.ts";
import { CONFORMANCE_CASES, type ConformanceQuirks, runConformance } from "../testing.ts";
import {
  type Cache,
  CacheUnsupportedError,
  DenoKvCache,
  FileSystemCache,
  MemcachedCache,
  MemoryCache,
  MemoryStore,
  RedisCache,
  TieredCache,
  UwsgiCache,
} from "../mod.ts";
import { encodeEntry } from "../backends/filesystem/_format.ts";
import { entryName } from "../backends/filesystem/_files.ts";
import { defaultSerializer } from "../serializers/default.ts";
import { MapCache } from "./fixtures/map_cache.ts";
import { checkNoBookkeepingListed } from "./fixtures/bookkeeping.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ttl_ops_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("FileSystemCache reads a format 2 entry, lists it once touch() rewrites it as format 3", async () => {
  await withDir(async (dir) => {
    let now = 1_000_000;
    await using cache = new FileSystemCache({ dir, now: () => now });
    const name = entryName("old");
    Deno.writeFileSync(
      `${dir}/${name}`,
      encodeEntry(name, now + 60_000, defaultSerializer.serialize({ v: 2 })),
    );
    assert.equal(Deno.readFileSync(`${dir}/${name}`)[4], 2, "planted as format 2");
    await cache.set("new", 3);
    assert.deepEqual(await cache.get("old"), { v: 2 }, "format 2 is still read");
    assert.equal(await cache.ttl("old"), 60_000);
    assert.deepEqual(await Array.fromAsync(cache.keys()), ["new"], "format 2 stores no key");
    now += 10_000;
    assert.equal(await cache.touch("old", 0), true);
    assert.equal(Deno.readFileSync(`${dir}/${name}`)[4], 3, "rewritten as format 3");
    assert.deepEqual((await Array.fromAsync(cache.keys())).sort(), ["new", "old"]);
    assert.deepEqual(await cache.get("old"), { v: 2 }, "the value survives the rewrite");
    assert.equal(await cache.ttl("old"), 0);
  });
});

Deno.test("FileSystemCache.keys() skips lock, temp and foreign files and a stored key that does not hash to its file", async () => {
  await withDir(async (dir) => {
    await using cache = new FileSystemCache({ dir });
    await cache.set("a", 1);
    await cache.inc("n"); // takes a lock file
    const wrong = entryName("planted");
    Deno.writeFileSync(`${dir}/${wrong}`, encodeEntry(wrong, 0, new Uint8Array([1]), "other"));
    Deno.writeFileSync(`${dir}/${"f".repeat(64)}.x1.tmp`, new Uint8Array([1, 2]));
    Deno.writeFileSync(`${dir}/notes.txt`, new Uint8Array([1]));
    Deno.mkdirSync(`${dir}/${"e".repeat(64)}`);
    assert.deepEqual((await Array.fromAsync(cache.keys())).sort(), ["a", "n"]);
    assert.equal(await cache.get("planted"), undefined, "the planted file is no entry of its own");
  });
});

Deno.test("MemoryStore.keys() is lazy and sync; ttl()/touch() are not a use for the policy", () => {
  let now = 0;
  const store = new MemoryStore({ maxEntries: 2, policy: "lru", now: () => now });
  store.set("a", 1, 1000);
  store.set("b", 2);
  assert.equal(store.ttl("a"), 1000);
  assert.equal(store.touch("a", 5000), true);
  store.set("c", 3); // evicts the least recently used: "a" (ttl/touch did not use it)
  assert.equal(store.has("a"), false);
  const keys = store.keys("");
  assert.equal(keys.next().value, "b");
  now += 300_000;
  assert.deepEqual([...store.keys()], [], "expired entries are not listed");
  assert.throws(() => store.touch("b", -1), RangeError);
  assert.throws(() => store.ttl(1 as never), TypeError);
});

Deno.test("DenoKvCache.keys() reads a long key back from a chunked value, and skips foreign data", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ttl_ops_kv_" });
  try {
    await using kv = await Deno.openKv(`${dir}/kv.sqlite3`);
    const prefix = ["ttl-ops"];
    await using cache = new DenoKvCache({ kv, prefix });
    const long = "k".repeat(400) + "\uD800"; // hashed: long and not well-formed
    await cache.set(long, "v".repeat(200_000));
    await cache.set("short", 1);
    await kv.set([...prefix, "foreign"], "not a header");
    await kv.set(
      [...prefix, new Uint8Array(32)],
      new Uint8Array([0xdc, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    );
    assert.deepEqual((await Array.fromAsync(cache.keys())).sort(), [long, "short"].sort());
    assert.deepEqual(await Array.fromAsync(cache.keys("kkk")), [long]);
    assert.equal(await cache.touch(long, 60_000), true);
    assert.equal(await cache.get(long), "v".repeat(200_000), "a chunked value survives touch()");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

serverTest(
  "RedisCache.keys() pages through SCAN and skips keys no string maps to",
  "redis",
  async (_t, [redis]) => {
    const keyPrefix = `ttl:${crypto.randomUUID()}:`;
    await using cache = new RedisCache({ url: redis!.url, keyPrefix });
    const raw = createClient({ url: redis!.url });
    await raw.connect();
    try {
      const keys = Array.from({ length: 2500 }, (_, i) => `k${i}`);
      await cache.setMany(Object.fromEntries(keys.map((key) => [key, 1])));
      await raw.set(Buffer.concat([Buffer.from(keyPrefix), Buffer.from([0xff, 0xfe])]), "x");
      await raw.set("elsewhere", "x");
      const listed = await Array.fromAsync(cache.keys());
      assert.equal(new Set(listed).size, 2500);
      assert.deepEqual([...new Set(listed)].sort(), [...keys].sort());
      assert.deepEqual(
        (await Array.fromAsync(cache.keys("k249"))).sort(),
        keys.filter((key) => key.startsWith("k249")).sort(),
      );
      const left = (await cache.ttl("k1"))!;
      assert.ok(left > 240_000 && left <= 300_000, `the default ttl, in ms: ${left}`);
      assert.equal(await cache.touch("k1", 0), true);
      assert.equal(await cache.ttl("k1"), 0);
      assert.equal(await cache.touch("missing", 0), false, "PERSIST then EXISTS: a miss");
    } finally {
      await raw.close();
    }
  },
);

serverTest(
  "MemcachedCache.ttl() counts whole seconds; keys() is unsupported with the reason",
  "memcached",
  async (_t, [server]) => {
    await using cache = new MemcachedCache({ servers: server!.address, keyPrefix: "ttl:" });
    await cache.set("a", 1, 1500); // rounded up to 2 s
    const left = (await cache.ttl("a"))!;
    assert.ok(left === 2000 || left === 1000, `${left}`);
    assert.equal(await cache.touch("a", 40 * 86_400_000), true, "past 30 days: an absolute time");
    const far = (await cache.ttl("a"))!;
    // whole seconds, rounded up (up to a second over what was asked), measured against
    // memcached's own clock, which ticks once a second and so lags ours by up to another second
    assert.ok(far > 39 * 86_400_000 && far <= 40 * 86_400_000 + 2000, `${far}`);
    await assert.rejects(
      Array.fromAsync(cache.keys()),
      (e: Error) =>
        e instanceof CacheUnsupportedError &&
        e.message.startsWith(
          "Cannot keys: MemcachedCache does not support keys(): memcached has no",
        ),
    );
  },
);

serverTest("UwsgiCache.keys() is unsupported with the reason", "uwsgi", async (_t, [server]) => {
  await using cache = new UwsgiCache({ server: server!.address, cache: server!.cacheName });
  await assert.rejects(
    Array.fromAsync(cache.keys()),
    (e: Error) =>
      e instanceof CacheUnsupportedError && e.message.includes("uWSGI's cache protocol has no"),
  );
});

Deno.test("ttlOps.unsupported holds a backend to its declaration, in both directions", async (t) => {
  const others = Object.keys(CONFORMANCE_CASES).filter((group) => group !== "ttlOps");
  const run = async (make: () => Cache, unsupported: ConformanceQuirks["unsupported"]) => {
    const { t, outcomes } = recorder();
    await runConformance(t, {
      name: "x",
      make,
      quirks: { unsupported },
      skip: [{ reason: "only ttlOps", groups: others as never[] }],
    });
    return outcomes.find((o) => o.startsWith(`ttlOps / ${CONFORMANCE_CASES.ttlOps.unsupported}`));
  };
  const name = `ttlOps / ${CONFORMANCE_CASES.ttlOps.unsupported}`;
  await t.step("a supported operation declared unsupported fails", async () => {
    const outcome = await run(() => new MemoryCache(), { keys: "cannot list" });
    assert.match(outcome!, /: failed: .*keys\(\) is declared unsupported because cannot list/);
  });
  await t.step("an unsupported operation left undeclared fails", async () => {
    const outcome = await run(() => new Hookless(), { ttl: "does not implement the _ttl hook" });
    assert.match(outcome!, /: failed: Cannot touch key "k": Hookless does not support touch\(\)/);
  });
  await t.step("a declaration whose reason the error does not give fails", async () => {
    const outcome = await run(() => new Hookless(), {
      ttl: "does not implement the _ttl hook",
      touch: "does not implement the _touch hook",
      keys: "a reason the backend never gives",
    });
    assert.match(outcome!, /: failed: keys\(\) is declared unsupported because a reason/);
  });
  await t.step("an exact declaration passes", async () => {
    const outcome = await run(() => new Hookless(), {
      ttl: "does not implement the _ttl hook",
      touch: "does not implement the _touch hook",
      keys: "does not implement the _keys hook",
    });
    assert.equal(outcome, `${name}: ok`);
  });
});

/** A backend that implements only the required hooks. */
class Hookless extends MapCache {}

Deno.test("MemoryCache.keys(): closing the cache mid-iteration rejects the next step", async () => {
  const cache = new MemoryCache();
  await cache.setMany({ a: 1, b: 2, c: 3 });
  const keys = cache.keys();
  assert.equal((await keys.next()).done, false);
  await cache.close();
  await assert.rejects(keys.next(), /Cannot keys: the cache is closed/);
});

// keys() never lists bookkeeping (tag versions, namespace generations and entries, locks), and a
// namespace view lists only its own live entries: on every backend that lists keys.

Deno.test("keys() lists no bookkeeping: MemoryCache", async () => {
  await using cache = new MemoryCache();
  await checkNoBookkeepingListed(cache);
});

Deno.test("keys() lists no bookkeeping: FileSystemCache", async () => {
  await withDir(async (dir) => {
    await using cache = new FileSystemCache({ dir });
    await checkNoBookkeepingListed(cache);
  });
});

Deno.test("keys() lists no bookkeeping: DenoKvCache", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ttl_ops_kv_" });
  try {
    await using kv = await Deno.openKv(`${dir}/kv.sqlite3`);
    await using cache = new DenoKvCache({ kv, prefix: ["bookkeeping"] });
    await checkNoBookkeepingListed(cache);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("keys() lists no bookkeeping: TieredCache (memory over memory)", async () => {
  await using cache = new TieredCache({ l1: new MemoryCache(), l2: new MemoryCache() });
  await checkNoBookkeepingListed(cache);
});

serverTest("keys() lists no bookkeeping: RedisCache", "redis", async (_t, [redis]) => {
  await using cache = new RedisCache({ url: redis!.url, keyPrefix: `bk:${crypto.randomUUID()}:` });
  await checkNoBookkeepingListed(cache);
});

// ---- Session 2, round 2 (rdead) ----
Deno.test("touch of a getOrSet entry through a TieredCache or a namespace view rewrites it below: value kept, new ttl, dead stays dead", async () => {
  const now = { t: 1_000_000 };
  const clock = () => now.t;
  await using l2 = new MemoryCache({ now: clock });
  await using tiered = new TieredCache({ l1: new MemoryCache({ now: clock }), l2, now: clock });
  const view = l2.namespace("v");
  const options = { ttl: 1_000, staleWhileRevalidate: 60_000 };
  for (const cache of [tiered, view]) {
    assert.equal(await cache.getOrSet("k", () => "v1", options), "v1");
    assert.equal(await cache.touch("k", 9_000), true);
    assert.equal(await cache.ttl("k"), 9_000);
    assert.equal(await cache.get("k"), "v1");
    assert.equal(await cache.getOrSet("d", () => "old", options), "old");
  }
  now.t += 10_000;
  for (const cache of [tiered, view]) {
    assert.equal(await cache.get("k"), undefined, "past the touched ttl");
    assert.equal(await cache.touch("d", 9_000), false, "a stale entry is not revived");
    assert.equal(await cache.get("d"), undefined);
    assert.equal(await cache.getOrSet("d", () => "new", options), "old", "served stale");
  }
});

Deno.test("touch of a getOrSet entry holding rich values on a byte-storing backend: the entry read back is recognised as the same one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const value = {
      r: /a/g,
      e: new Error("x"),
      m: new Map<unknown, unknown>([[1, { a: [1, -0, NaN] }]]),
      s: new Set([1, "a"]),
      d: new Date(5),
      u: new Uint8Array([1, 2]),
      big: 10n,
      nested: [[{ x: null }]],
    };
    for (
      const cache of [new FileSystemCache({ dir }), new DenoKvCache({ path: `${dir}/kv` })]
    ) {
      await using _closed = cache;
      await cache.getOrSet("k", () => value, { ttl: 10_000, staleWhileRevalidate: 1_000 });
      assert.equal(await cache.touch("k", 600_000), true);
      const left = await cache.ttl("k");
      assert.ok(left !== undefined && left > 10_000, `ttl ${left}`);
      assert.equal(await cache.touch("k", 0), true);
      assert.equal(await cache.ttl("k"), 0);
      assert.deepEqual(await cache.get("k"), value);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
// ---- end of Session 2, round 2 (rdead) ----
