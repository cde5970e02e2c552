// The shape issue 15 gave the backends: hooks that may answer synchronously, one owner of
// the counters, serialization only where bytes are stored, structured errors, one options
// shape with one constructor-error prefix.
import assert from "node:assert/strict";
import {
  ByteCache,
  CacheError,
  DenoKvCache,
  FileSystemCache,
  MemoryCache,
  NullCache,
  SerializationError,
  UwsgiCache,
} from "../mod.ts";
import { MapCache } from "./fixtures/map_cache.ts";

Deno.test("MemoryCache, NullCache and FileSystemCache take get() and stats() from the base class", () => {
  for (const Class of [MemoryCache, NullCache, FileSystemCache]) {
    for (const method of ["get", "stats"]) {
      assert.equal(Object.hasOwn(Class.prototype, method), false, `${Class.name}.${method}`);
    }
  }
});

Deno.test("MemoryCache keeps one set of counters: the store's", async () => {
  await using cache = new MemoryCache();
  await cache.set("a", 1);
  await cache.add("b", 2);
  await cache.setMany({ c: 3, d: 4 });
  await cache.get("a");
  await cache.get("missing");
  await cache.getMany(["a", "nope"]);
  await cache.has("b");
  await cache.delete("c");
  await cache.deleteMany(["d", "gone"]);
  await cache.inc("n");
  await cache.dec("n", 3);
  const expected = { hits: 3, misses: 2, sets: 6, deletes: 2, evictions: 0 };
  assert.deepEqual(cache.stats(), expected);
  assert.deepEqual(cache.store.stats(), expected);
  // The base class counted nothing of its own.
  const own = (cache as unknown as { _stats: Record<string, number> })._stats;
  assert.deepEqual(own, { hits: 0, misses: 0, sets: 0, deletes: 0, evictions: 0 });
  assert.equal(await cache.get("n"), -2);
});

Deno.test("a BaseCache subclass may answer its hooks synchronously", async () => {
  class SyncMap extends MapCache {}
  await using cache = new SyncMap();
  const pending = cache.get("a");
  assert.ok(pending instanceof Promise);
  assert.equal(await pending, undefined);
  assert.equal(await cache.set("a", 1), true);
  assert.deepEqual(await cache.getMany(["a", "b", "a"]), [1, undefined, 1]);
  assert.deepEqual(await cache.setMany({ b: 2, c: 3 }), ["b", "c"]);
  assert.deepEqual(await cache.deleteMany(["b", "b", "x"]), ["b"]);
  assert.equal(await cache.dec("n", 4), -4);
  assert.deepEqual(cache.stats(), { hits: 2, misses: 2, sets: 4, deletes: 1, evictions: 0 });
  await assert.rejects(cache.get(1 as unknown as string), TypeError);
});

Deno.test("only the backends that store bytes carry a serializer", async () => {
  await using memory = new MemoryCache();
  await using none = new NullCache();
  assert.equal("serializer" in memory, false);
  assert.equal("serializer" in none, false);
  const dir = await Deno.makeTempDir();
  try {
    await using files = new FileSystemCache({ dir });
    assert.ok(files instanceof ByteCache);
    assert.equal(typeof files.serializer.serialize, "function");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CacheError carries the failed call and key as fields", async (t) => {
  await t.step("closed cache", async () => {
    const cache = new MemoryCache();
    await cache.close();
    const error = await cache.get("a").catch((e) => e);
    assert.ok(error instanceof CacheError);
    assert.equal(error.op, "get");
    assert.equal(error.key, "a");
    const clear = await cache.clear().catch((e) => e);
    assert.equal(clear.op, "clear");
    assert.equal(clear.key, undefined);
    assert.equal(Object.hasOwn(clear, "key"), false);
  });
  await t.step("a value the serializer refuses", async () => {
    const dir = await Deno.makeTempDir();
    try {
      await using cache = new FileSystemCache({ dir });
      const error = await cache.set("k", { run() {} }).catch((e) => e);
      assert.ok(error instanceof SerializationError);
      assert.equal(error.op, "set");
      assert.equal(error.key, "k");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
  await t.step("a file operation that fails", async () => {
    const dir = await Deno.makeTempDir();
    await using cache = new FileSystemCache({ dir });
    await Deno.remove(dir, { recursive: true });
    const error = await cache.set("k", 1).catch((e) => e);
    assert.ok(error instanceof CacheError);
    assert.equal(error.op, "set");
    assert.equal(error.key, "k");
  });
});

Deno.test("constructor errors say which class could not be created", async (t) => {
  await t.step("FileSystemCache", () => {
    assert.throws(() => new FileSystemCache({ dir: "/tmp/x", defaultTtl: -1 }), {
      name: "RangeError",
      message:
        "Cannot create FileSystemCache: defaultTtl must be a finite number >= 0, received -1",
    });
    assert.throws(() => new FileSystemCache({ dir: "/tmp/x", lockTimeout: -1 }), {
      message: /^Cannot create FileSystemCache: lockTimeout must be/,
    });
  });
  await t.step("UwsgiCache", () => {
    assert.throws(() => new UwsgiCache({ timeout: 0 }), {
      name: "RangeError",
      message: "Cannot create UwsgiCache: timeout must be a finite number of ms > 0, received 0",
    });
    assert.throws(() => new UwsgiCache({ defaultTtl: "1m" as unknown as number }), {
      name: "TypeError",
      message: /^Cannot create UwsgiCache: defaultTtl must be a number of milliseconds/,
    });
  });
  await t.step("DenoKvCache and NullCache", () => {
    assert.throws(() => new DenoKvCache({ defaultTtl: Infinity }), {
      message:
        "Cannot create DenoKvCache: defaultTtl must be a finite number >= 0, received Infinity",
    });
    assert.throws(() => new NullCache({ defaultTtl: -5 }), {
      message: "Cannot create NullCache: defaultTtl must be a finite number >= 0, received -5",
    });
  });
});
