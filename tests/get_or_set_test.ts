// getOrSet's production options beyond the conformance group: read coalescing counted on a
// real Redis, option checks, memoize pass-through.
import assert from "node:assert/strict";
import { createClient } from "redis";
import { serverTest } from "./servers.ts";
import {
  CacheError,
  CacheTimeoutError,
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
