// getOrSet's production options beyond the conformance group: read coalescing counted on a
// real Redis, option checks, memoize pass-through.
import assert from "node:assert/strict";
import { createClient } from "redis";
import { serverTest } from "./servers.ts";
import {
  type Cache,
  CacheError,
  CacheTimeoutError,
  DenoKvCache,
  FileSystemCache,
  MemcachedCache,
  memoize,
  memoized,
  MemoryCache,
  RedisCache,
} from "../mod.ts";
import { CacheTimeoutError as FromContract } from "../backends/_contract.ts";
import { ENVELOPE_MARK } from "../backends/_get_or_set.ts";

/** The server's call count of `command` (INFO commandstats), 0 before its first call. */
async function calls(
  client: { info(section: string): Promise<unknown> },
  command: string,
): Promise<number> {
  const info = String(await client.info("commandstats"));
  const line = info.split("\n").find((l) => l.startsWith(`cmdstat_${command}:`));
  return Number(line?.match(/calls=(\d+)/)?.[1] ?? 0);
}

serverTest(
  "RedisCache: 1 000 concurrent getOrSet of one key send one GET and one SET",
  "redis",
  async (t, [redis]) => {
    const raw = createClient({ url: redis!.url });
    raw.on("error", () => {});
    await raw.connect();
    await using cache = new RedisCache({ url: redis!.url, keyPrefix: `t:${crypto.randomUUID()}:` });
    try {
      await cache.set("warm-up", 1); // connect outside the counted window
      for (
        const [name, options] of [["a ttl", 60_000], ["SWR options", {
          ttl: 60_000,
          staleWhileRevalidate: 60_000,
        }]] as const
      ) {
        await t.step(`a miss, with ${name}`, async () => {
          const key = `miss:${name}`;
          const [gets, sets] = [await calls(raw, "get"), await calls(raw, "set")];
          let produced = 0;
          const results = await Promise.all(
            Array.from({ length: 1000 }, () => cache.getOrSet(key, () => ++produced, options)),
          );
          assert.deepEqual(new Set(results), new Set([1]));
          assert.equal(produced, 1);
          assert.equal((await calls(raw, "get")) - gets, 1, "one GET for 1 000 callers");
          assert.equal((await calls(raw, "set")) - sets, 1, "one SET");
        });
        await t.step(`a hit, with ${name}`, async () => {
          const key = `miss:${name}`;
          const gets = await calls(raw, "get");
          const results = await Promise.all(
            Array.from({ length: 1000 }, () => cache.getOrSet(key, () => -1, options)),
          );
          assert.deepEqual(new Set(results), new Set([1]));
          assert.equal((await calls(raw, "get")) - gets, 1, "one GET for 1 000 callers");
        });
      }
    } finally {
      await raw.close();
    }
  },
);

Deno.test("getOrSet rejects bad options with typed errors naming the key", async (t) => {
  await using cache = new MemoryCache();
  const cases: [string, unknown, typeof TypeError, string][] = [
    ["an unknown option", { tll: 1 }, TypeError, 'unknown option "tll"'],
    ["options of the wrong type", "60s", TypeError, "options must be a ttl in ms or an object"],
    ["a negative grace", { grace: -1 }, RangeError, "grace must be a finite number >= 0"],
    ["a string swr", { staleWhileRevalidate: "1m" }, TypeError, "staleWhileRevalidate must be"],
    ["soft above hard", { timeout: { soft: 10, hard: 5 } }, RangeError, "timeout.soft (10)"],
    ["timeout not an object", { timeout: 5 }, TypeError, "timeout must be an object"],
    ["refreshAhead of 1", { refreshAhead: 1 }, RangeError, "refreshAhead must be a fraction"],
    ["an unknown lock", { lock: "global" }, TypeError, 'lock must be "process" or "distributed"'],
    ["a hook not a function", { onRefreshError: 1 }, TypeError, "onRefreshError must be"],
  ];
  for (const [what, options, ErrorClass, text] of cases) {
    await t.step(what, async () => {
      let called = false;
      await assert.rejects(
        cache.getOrSet("k", () => (called = true, 1), options as number),
        (error) =>
          error instanceof ErrorClass && error.message.includes('getOrSet key "k"') &&
          error.message.includes(text),
      );
      assert.equal(called, false);
    });
  }
});

Deno.test("CacheTimeoutError is a CacheError exported by mod.ts and the backend contract", () => {
  assert.equal(CacheTimeoutError, FromContract);
  assert.ok(new CacheTimeoutError("x") instanceof CacheError);
  assert.equal(new CacheTimeoutError("x").name, "CacheTimeoutError");
});

Deno.test("a user value carrying the envelope's reserved field is not an envelope unless it is a number", async () => {
  await using cache = new MemoryCache();
  await cache.set("k", { [ENVELOPE_MARK]: "user data", v: 1, t: 1 });
  assert.deepEqual(await cache.get("k"), { [ENVELOPE_MARK]: "user data", v: 1, t: 1 });
});

Deno.test("getOrSet's default producer timeout: none, and a plain number is still a ttl", async () => {
  const now = { t: 1_000_000 };
  await using cache = new MemoryCache({ now: () => now.t });
  assert.equal(await cache.getOrSet("k", () => "v", 100), "v");
  now.t += 101;
  assert.equal(await cache.getOrSet("k", () => "w", 100), "w");
});

Deno.test("memoize passes getOrSet's options through", async () => {
  const now = { t: 1_000_000 };
  await using cache = new MemoryCache({ now: () => now.t });
  let runs = 0;
  const failures: string[] = [];
  let fail = false;
  const load = memoize(async (id: number) => {
    runs++;
    if (fail) throw new Error(`source down for ${id}`);
    return await Promise.resolve(`user ${id} v${runs}`);
  }, {
    cache,
    prefix: "load",
    ttl: 100,
    grace: 1000,
    onRefreshError: (error) => failures.push((error as Error).message),
  });
  assert.equal(await load(1), "user 1 v1");
  now.t += 150;
  fail = true;
  assert.equal(await load(1), "user 1 v1", "the stale result within grace");
  assert.deepEqual(failures, ["source down for 1"]);
  await assert.rejects(
    Promise.resolve().then(() => memoize((n: number) => n, { cache, prefix: "bad", grace: -1 })),
    RangeError,
  );
});

Deno.test("@memoized passes getOrSet's options through", async () => {
  const now = { t: 1_000_000 };
  const cache = new MemoryCache({ now: () => now.t });
  let runs = 0;
  let release = () => {};
  class Repo {
    @memoized({ cache, ttl: 100, staleWhileRevalidate: 1000 })
    async user(id: number): Promise<string> {
      const n = ++runs;
      if (n > 1) await new Promise<void>((resolve) => release = resolve);
      return `user ${id} v${n}`;
    }
  }
  const repo = new Repo();
  assert.equal(await repo.user(1), "user 1 v1");
  now.t += 150;
  assert.equal(await repo.user(1), "user 1 v1", "stale, refreshed in the background");
  assert.equal(runs, 2);
  release();
  for (let i = 0; i < 100 && (await repo.user(1)) !== "user 1 v2"; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(await repo.user(1), "user 1 v2");
  await cache.close();
});

Deno.test("has() looks behind a live entry for a stale envelope without counting a second read", async () => {
  const now = { t: 1_000_000 };
  await using cache = new MemoryCache({ now: () => now.t });
  await cache.set("plain", { a: 1 });
  assert.equal(await cache.has("plain"), true);
  assert.deepEqual(cache.stats().hits, 1, "one has() is one hit");
  await cache.getOrSet("swr", () => 1, { ttl: 100, staleWhileRevalidate: 1000 });
  assert.equal(await cache.has("swr"), true);
  now.t += 100;
  assert.equal(await cache.has("swr"), false);
  assert.equal(await cache.getOrSet("swr", () => 2, { ttl: 100, staleWhileRevalidate: 1000 }), 1);
});

Deno.test("getOrSet re-checks an options object whose values changed since its last call", async () => {
  await using cache = new MemoryCache();
  const options: { ttl: number; grace: number } = { ttl: 1000, grace: 10 };
  assert.equal(await cache.getOrSet("k", () => 1, options), 1);
  options.grace = -1;
  await assert.rejects(cache.getOrSet("k", () => 1, options), RangeError);
  options.grace = 10;
  assert.equal(await cache.getOrSet("k", () => 2, options), 1);
});

// ---- Session 2 (gos): getOrSet with tags, add over a stale entry across instances ----

Deno.test("getOrSet with tags: grace and staleWhileRevalidate still serve an entry that was not invalidated", async (t) => {
  const now = { t: 1_000_000 };
  await using memory = new MemoryCache({ now: () => now.t });
  for (
    const [name, cache] of [["MemoryCache", memory], [
      "a namespace view",
      memory.namespace("v"),
    ]] as const
  ) {
    await t.step(name, async () => {
      const options = { ttl: 100, grace: 1000, tags: ["user:1"] };
      assert.equal(await cache.getOrSet("g", () => "v1", options), "v1");
      await cache.set("other", 1, { tags: ["user:2"] });
      await cache.invalidateTags(["user:2"]);
      now.t += 150;
      const down = () => Promise.reject(new Error("down"));
      assert.equal(await cache.getOrSet("g", down, options), "v1", "within grace, not invalidated");
      const swr = { ttl: 100, staleWhileRevalidate: 1000, tags: ["user:1"] };
      assert.equal(await cache.getOrSet("s", () => "s1", swr), "s1");
      now.t += 150;
      let release = () => {};
      const gate = new Promise<void>((resolve) => release = resolve);
      assert.equal(await cache.getOrSet("s", async () => (await gate, "s2"), swr), "s1");
      release();
      await gate;
      for (let i = 0; i < 100 && (await cache.get("s")) !== "s2"; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      assert.equal(await cache.get("s"), "s2", "the refresh was stored, with its tags");
      await cache.invalidateTags(["user:1"]);
      assert.deepEqual(await cache.getMany(["g", "s"]), [undefined, undefined]);
      await assert.rejects(cache.getOrSet("g", down, options), { message: "down" });
    });
  }
});

Deno.test("memoize and @memoized pass tags through: invalidateTags drops their results", async () => {
  await using cache = new MemoryCache();
  let runs = 0;
  const load = memoize((id: number) => `user ${id} v${++runs}`, {
    cache,
    prefix: "load",
    tags: ["users"],
  });
  assert.equal(await load(1), "user 1 v1");
  assert.equal(await load(1), "user 1 v1");
  await cache.invalidateTags(["users"]);
  assert.equal(await load(1), "user 1 v2");
  class Repo {
    @memoized({ cache, tags: ["repo"] })
    find(id: number): Promise<string> {
      return Promise.resolve(`row ${id} v${++runs}`);
    }
  }
  const repo = new Repo();
  assert.equal(await repo.find(7), "row 7 v3");
  assert.equal(await repo.find(7), "row 7 v3");
  await cache.invalidateTags(["repo"]);
  assert.equal(await repo.find(7), "row 7 v4");
  assert.equal(await load(1), "user 1 v2", "another tag's results stay");
  await assert.rejects(
    Promise.resolve().then(() => memoize((n: number) => n, { cache, prefix: "bad", tags: [""] })),
    { name: "TypeError", message: /every tag must be a non-empty string/ },
  );
});

/**
 * Two instances over one store: a stale getOrSet entry and an invalidated tagged entry, then 10
 * concurrent `add`s of each key from each instance; exactly one of the 20 stores.
 */
async function raceOverDead(
  a: Cache,
  b: Cache,
  letTtlPass: () => Promise<void>,
  ttl: number,
): Promise<void> {
  const tag = `t${crypto.randomUUID()}`;
  assert.equal(await a.getOrSet("s", () => "old", { ttl, staleWhileRevalidate: 600_000 }), "old");
  await a.set("x", "tagged", { ttl: 600_000, tags: [tag] });
  await b.invalidateTags([tag]);
  await letTtlPass();
  for (const key of ["s", "x"]) {
    const added = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).add(key, `${key}${i}`, 600_000)),
    );
    assert.equal(added.filter(Boolean).length, 1, `${key}: ${added}`);
    const winner = `${key}${added.indexOf(true)}`;
    assert.equal(await a.get(key), winner);
    assert.equal(await b.get(key), winner);
  }
}

serverTest(
  "RedisCache: concurrent add()s from two instances over a stale or invalidated entry, one stores",
  "redis",
  async (_t, [redis]) => {
    const keyPrefix = `t:${crypto.randomUUID()}:`;
    await using a = new RedisCache({ url: redis!.url, keyPrefix });
    await using b = new RedisCache({ url: redis!.url, keyPrefix });
    await raceOverDead(a, b, () => new Promise((resolve) => setTimeout(resolve, 300)), 100);
  },
);

serverTest(
  "MemcachedCache: concurrent add()s from two instances over a stale or invalidated entry, one stores",
  "memcached",
  async (_t, [memcached]) => {
    const keyPrefix = `t${crypto.randomUUID().slice(0, 8)}:`;
    await using a = new MemcachedCache({ servers: memcached!.address, keyPrefix });
    await using b = new MemcachedCache({ servers: memcached!.address, keyPrefix });
    await raceOverDead(a, b, () => new Promise((resolve) => setTimeout(resolve, 1100)), 1000);
  },
);

Deno.test("DenoKvCache and FileSystemCache: concurrent add()s from two instances over a stale or invalidated entry, one stores", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const now = { t: 1_000_000 };
    const clock = () => now.t;
    const pass = () => Promise.resolve(void (now.t += 200));
    await t.step("DenoKvCache", async () => {
      const path = `${dir}/kv.sqlite`;
      await using a = new DenoKvCache({ path, now: clock });
      await using b = new DenoKvCache({ path, now: clock });
      await raceOverDead(a, b, pass, 100);
    });
    await t.step("FileSystemCache", async () => {
      await using a = new FileSystemCache({ dir: `${dir}/fs`, now: clock });
      await using b = new FileSystemCache({ dir: `${dir}/fs`, now: clock });
      await raceOverDead(a, b, pass, 100);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
Deno.test("MemoryCache stats: a stale entry read by get, getMany or has is a miss, and so is a stale serve", async () => {
  const now = { t: 1_000_000 };
  await using cache = new MemoryCache({ now: () => now.t });
  const options = { ttl: 100, staleWhileRevalidate: 1000 };
  assert.equal(await cache.getOrSet("k", () => "v1", options), "v1");
  now.t += 150;
  const before = cache.stats();
  assert.equal(await cache.get("k"), undefined);
  assert.deepEqual(await cache.getMany(["k"]), [undefined]);
  assert.equal(await cache.has("k"), false);
  const after = cache.stats();
  assert.deepEqual(
    [after.hits - before.hits, after.misses - before.misses],
    [0, 3],
    "three misses, no hit",
  );
  assert.equal(await cache.getOrSet("k", () => "v2", options), "v1", "served stale");
  const served = cache.stats();
  assert.deepEqual([served.hits - after.hits, served.misses - after.misses], [0, 1]);
});
// ---- end of Session 2 (gos) ----

// ---- Session 2, round 2 (rdead): a write between a dead-entry judgement and its store ----

/**
 * Makes `cache`'s next `method(key)` run `action` (a write by another instance) after it read
 * and before it returns: the window between what `inc`/`touch` judged and what they store.
 */
function interleave(
  cache: Cache,
  method: "_peek" | "_ttl" | "_getMany",
  key: string,
  action: () => Promise<unknown>,
): void {
  const target = cache as unknown as Record<string, (key: unknown) => unknown>;
  const original = target[method]!;
  target[method] = async function (this: unknown, k: unknown) {
    const result = await original.call(this, k);
    if (k === key || (Array.isArray(k) && k.some((one) => String(one).endsWith(key)))) {
      delete target[method];
      await action();
    }
    return result;
  };
}

/**
 * `inc` over a dead entry and `touch` of a fresh getOrSet entry, each with another instance's
 * write landing between the read they judged and their own write: the other write is never lost.
 */
async function writesBetween(
  cache: Cache,
  other: Cache,
  letTtlPass: () => Promise<void>,
  ttl: number,
): Promise<void> {
  const stale = { ttl, staleWhileRevalidate: 600_000 };
  const fresh = { ttl: 600_000, staleWhileRevalidate: 600_000 };
  for (const key of ["inc-set", "inc-inc", "inc-del", "inc-twice", "inc-20"]) {
    assert.equal(await cache.getOrSet(key, () => "old", stale), "old");
  }
  await letTtlPass();
  for (const key of ["touch-set", "touch-del"]) {
    assert.equal(await cache.getOrSet(key, () => "old", fresh), "old");
  }

  // 20 concurrent incs over one dead entry, half from each instance: every one counted.
  const counts = await Promise.all(
    Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? cache : other).inc("inc-20")),
  );
  assert.deepEqual(counts.sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.equal(await other.get("inc-20"), 20);

  assert.equal(await cache.inc("inc-twice"), 1, "a counter stored over a dead entry…");
  assert.equal(await other.inc("inc-twice", 2), 3, "…counts on");
  assert.equal(await cache.dec("inc-twice"), 2);

  interleave(cache, "_peek", "inc-set", () => other.set("inc-set", 7, 600_000));
  assert.equal(await cache.inc("inc-set"), 8, "inc over a dead entry counts on the newer set");
  assert.equal(await other.get("inc-set"), 8);

  interleave(cache, "_peek", "inc-inc", () => other.inc("inc-inc"));
  assert.equal(await cache.inc("inc-inc"), 2, "two incs over one dead entry count 2");
  assert.equal(await other.get("inc-inc"), 2);

  interleave(cache, "_peek", "inc-del", () => other.set("inc-del", "text", 600_000));
  await assert.rejects(cache.inc("inc-del"), { message: /inc-del/ });
  assert.equal(await other.get("inc-del"), "text", "a newer non-integer stays");

  interleave(cache, "_peek", "touch-set", () => other.set("touch-set", "new", 600_000));
  assert.equal(await cache.touch("touch-set", 300_000), true);
  assert.equal(await other.get("touch-set"), "new", "touch never writes back an older value");

  interleave(cache, "_ttl", "touch-del", () => other.delete("touch-del"));
  await cache.touch("touch-del", 300_000);
  assert.equal(await other.get("touch-del"), undefined, "touch never revives a deleted key");

  // `add` over an invalidated tagged entry that another instance deletes while it is judged
  // (its tag's version is read): the key is empty throughout, so `add` stores.
  const tag = `gone${crypto.randomUUID()}`;
  await cache.set("add-del", "tagged", { ttl: 600_000, tags: [tag] });
  await other.invalidateTags([tag]);
  interleave(cache, "_getMany", tag, () => other.delete("add-del"));
  assert.equal(await cache.add("add-del", "mine", 600_000), true, "add to a key emptied meanwhile");
  assert.equal(await other.get("add-del"), "mine");
}

Deno.test("MemoryCache, DenoKvCache, FileSystemCache: a write between inc's or touch's read of a getOrSet entry and its write is never lost", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const now = { t: 1_000_000 };
    const clock = () => now.t;
    const pass = () => Promise.resolve(void (now.t += 200));
    await t.step("MemoryCache", async () => {
      await using cache = new MemoryCache({ now: clock });
      await writesBetween(cache, cache, pass, 100);
    });
    await t.step("DenoKvCache", async () => {
      const path = `${dir}/kv.sqlite`;
      await using a = new DenoKvCache({ path, now: clock });
      await using b = new DenoKvCache({ path, now: clock });
      await writesBetween(a, b, pass, 100);
    });
    await t.step("FileSystemCache", async () => {
      await using a = new FileSystemCache({ dir: `${dir}/fs`, now: clock });
      await using b = new FileSystemCache({ dir: `${dir}/fs`, now: clock });
      await writesBetween(a, b, pass, 100);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

serverTest(
  "RedisCache: a write between inc's or touch's read of a getOrSet entry and its write is never lost",
  "redis",
  async (_t, [redis]) => {
    const keyPrefix = `t:${crypto.randomUUID()}:`;
    await using a = new RedisCache({ url: redis!.url, keyPrefix });
    await using b = new RedisCache({ url: redis!.url, keyPrefix });
    await writesBetween(a, b, () => new Promise((resolve) => setTimeout(resolve, 300)), 100);
  },
);

serverTest(
  "MemcachedCache: a write between inc's or touch's read of a getOrSet entry and its write is never lost",
  "memcached",
  async (_t, [memcached]) => {
    const keyPrefix = `t${crypto.randomUUID().slice(0, 8)}:`;
    await using a = new MemcachedCache({ servers: memcached!.address, keyPrefix });
    await using b = new MemcachedCache({ servers: memcached!.address, keyPrefix });
    await writesBetween(a, b, () => new Promise((resolve) => setTimeout(resolve, 1100)), 1000);
  },
);
// ---- end of Session 2, round 2 (rdead) ----
