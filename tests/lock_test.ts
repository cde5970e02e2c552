import assert from "node:assert/strict";
import { cacheFromUrl, CacheTimeoutError, MemoryCache, RedisCache } from "../mod.ts";
import { produceOnce } from "../backends/_lock.ts";
import { serverTest } from "./servers.ts";
import { runStampede, workerCommand } from "./fixtures/lock_stampede.ts";

const LOCK_PREFIX = "\u0000cachelib:lock\u0000"; // the scheme documented in backends/_lock.ts

/** A promise and the function that resolves it. */
function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => open = resolve);
  return { promise, open };
}

/** Starts `produceOnce` as a holder whose produce waits for `release` (returns its value). */
async function holdLock(cache: MemoryCache, key: string, lease = 60_000) {
  const holding = gate();
  const finish = gate<string>();
  const done = produceOnce(
    cache,
    key,
    { lease, deadline: Date.now() + 60_000 },
    () => cache.get<string>(key),
    async () => {
      holding.open();
      const value = await finish.promise;
      await cache.set(key, value);
      return value;
    },
  );
  await holding.promise;
  return { done, finish: finish.open };
}

Deno.test("produceOnce: concurrent callers share one produce and all get its value", async () => {
  await using cache = new MemoryCache();
  let runs = 0;
  const call = () =>
    produceOnce(
      cache,
      "k",
      { lease: 60_000, deadline: Date.now() + 60_000 },
      () => cache.get<number>("k"),
      async () => {
        runs++;
        await new Promise((resolve) => setTimeout(resolve, 20));
        await cache.set("k", 42);
        return 42;
      },
    );
  assert.deepEqual(await Promise.all(Array.from({ length: 20 }, call)), Array(20).fill(42));
  assert.equal(runs, 1);
  assert.equal(await cache.has(LOCK_PREFIX + "k"), false, "the holder released the lock");
});

Deno.test("produceOnce: the lock lives under a reserved key beside the user's key", async () => {
  await using cache = new MemoryCache();
  const holder = await holdLock(cache, "k");
  assert.equal(await cache.get("k"), undefined);
  assert.equal(typeof await cache.get(LOCK_PREFIX + "k"), "string");
  holder.finish("v");
  assert.equal(await holder.done, "v");
  assert.equal(await cache.has(LOCK_PREFIX + "k"), false);
});

Deno.test("produceOnce: a waiter past its deadline rejects with CacheTimeoutError", async () => {
  await using cache = new MemoryCache();
  const holder = await holdLock(cache, "slow");
  let produced = false;
  const error = await produceOnce(
    cache,
    "slow",
    { lease: 60_000, deadline: Date.now() + 30 },
    () => cache.get("slow"),
    () => {
      produced = true;
      return Promise.resolve("mine");
    },
  ).catch((e) => e);
  assert.ok(error instanceof CacheTimeoutError, String(error));
  assert.equal(error.op, "getOrSet");
  assert.equal(error.key, "slow");
  assert.match(error.message, /^Cannot getOrSet key "slow": the deadline passed while another/);
  assert.match(error.message, /lease 60000 ms/);
  assert.equal(produced, false);
  holder.finish("v");
  assert.equal(await holder.done, "v");
});

Deno.test("produceOnce: a deadline already passed still takes a free lock", async () => {
  await using cache = new MemoryCache();
  const value = await produceOnce(
    cache,
    "k",
    { lease: 1_000, deadline: Date.now() - 1 },
    () => cache.get("k"),
    () => Promise.resolve("made"),
  );
  assert.equal(value, "made");
});

Deno.test("produceOnce: aborting the signal rejects a waiter with its reason", async (t) => {
  await using cache = new MemoryCache();
  const holder = await holdLock(cache, "k");
  await t.step("while it waits", async () => {
    const controller = new AbortController();
    const waiting = produceOnce(
      cache,
      "k",
      { lease: 60_000, deadline: Date.now() + 60_000, signal: controller.signal },
      () => cache.get("k"),
      () => Promise.resolve("mine"),
    );
    setTimeout(() => controller.abort(new Error("caller gave up")), 20);
    await assert.rejects(waiting, { message: "caller gave up" });
  });
  await t.step("before it starts, without touching the cache", async () => {
    await assert.rejects(
      produceOnce(
        cache,
        "other",
        { lease: 60_000, deadline: Date.now() + 60_000, signal: AbortSignal.abort() },
        () => cache.get("other"),
        () => Promise.resolve("mine"),
      ),
      { name: "AbortError" },
    );
    assert.equal(await cache.has(LOCK_PREFIX + "other"), false);
  });
  holder.finish("v");
  assert.equal(await holder.done, "v");
});

Deno.test("produceOnce: a holder whose produce throws releases the lock at once", async () => {
  await using cache = new MemoryCache();
  await assert.rejects(
    produceOnce(
      cache,
      "k",
      { lease: 60_000, deadline: Date.now() + 60_000 },
      () => cache.get("k"),
      () => Promise.reject(new Error("source down")),
    ),
    { message: "source down" },
  );
  // A caller whose deadline has passed gets one try at the lock: it is free.
  const value = await produceOnce(
    cache,
    "k",
    { lease: 60_000, deadline: Date.now() - 1 },
    () => cache.get("k"),
    () => Promise.resolve("second"),
  );
  assert.equal(value, "second");
});

Deno.test("produceOnce: a waiter takes over when the holder's produce throws", async () => {
  await using cache = new MemoryCache();
  const failing = gate();
  const holder = produceOnce(
    cache,
    "k",
    { lease: 60_000, deadline: Date.now() + 60_000 },
    () => cache.get("k"),
    async () => {
      await failing.promise;
      throw new Error("source down");
    },
  );
  const waiter = produceOnce(
    cache,
    "k",
    { lease: 60_000, deadline: Date.now() + 60_000 },
    () => cache.get<string>("k"),
    async () => {
      await cache.set("k", "from the waiter");
      return "from the waiter";
    },
  );
  failing.open();
  await assert.rejects(holder, { message: "source down" });
  assert.equal(await waiter, "from the waiter");
});

Deno.test("produceOnce: a holder past its lease does not release the next holder's lock", async () => {
  let clock = 1_000_000;
  await using cache = new MemoryCache({ now: () => clock });
  const first = await holdLock(cache, "k", 100);
  clock += 200; // the first lease expired (in the cache's clock): a second caller takes the lock
  const second = await holdLock(cache, "k", 60_000);
  first.finish("one");
  assert.equal(await first.done, "one");
  await cache.delete("k");
  const error = await produceOnce(
    cache,
    "k",
    { lease: 60_000, deadline: Date.now() - 1 },
    () => cache.get("k"),
    () => Promise.resolve("third"),
  ).catch((e) => e);
  assert.ok(error instanceof CacheTimeoutError, `the second lock survived, got ${error}`);
  second.finish("two");
  assert.equal(await second.done, "two");
});

Deno.test("produceOnce: a backend's atomic compare-and-delete hook does the release", async () => {
  const hook = Symbol.for("cachelib.deleteIfEquals");
  class AtomicCache extends MemoryCache {
    released: [string, unknown][] = [];
    async [hook](key: string, value: unknown): Promise<boolean> {
      this.released.push([key, value]);
      return await this.get(key) === value && await this.delete(key);
    }
  }
  await using cache = new AtomicCache();
  const value = await produceOnce(
    cache,
    "k",
    { lease: 60_000, deadline: Date.now() + 60_000 },
    () => cache.get("k"),
    () => Promise.resolve("made"),
  );
  assert.equal(value, "made");
  assert.equal(cache.released.length, 1);
  assert.equal(cache.released[0]![0], LOCK_PREFIX + "k");
  assert.match(String(cache.released[0]![1]), /^[0-9a-f-]{36}$/);
  assert.equal(await cache.has(LOCK_PREFIX + "k"), false);
});

Deno.test("produceOnce: bad arguments are TypeError / RangeError naming the key", async (t) => {
  await using cache = new MemoryCache();
  const read = () => Promise.resolve(undefined);
  const produce = () => Promise.resolve(1);
  const cases: [string, () => Promise<unknown>, string, RegExp][] = [
    [
      "lease 0",
      () => produceOnce(cache, "k", { lease: 0, deadline: 0 }, read, produce),
      "RangeError",
      /Cannot getOrSet key "k": lock lease must be a finite number of ms > 0, received 0/,
    ],
    [
      "lease Infinity",
      () => produceOnce(cache, "k", { lease: Infinity, deadline: 0 }, read, produce),
      "RangeError",
      /lock lease must be a finite number of ms > 0, received Infinity/,
    ],
    [
      "deadline NaN",
      () => produceOnce(cache, "k", { lease: 1, deadline: NaN }, read, produce),
      "RangeError",
      /Cannot getOrSet key "k": deadline must be a finite epoch time in ms, received NaN/,
    ],
    [
      "key not a string",
      () => produceOnce(cache, 1 as never, { lease: 1, deadline: 0 }, read, produce),
      "TypeError",
      /Cannot getOrSet: key must be a string, received 1/,
    ],
  ];
  for (const [name, call, errorName, message] of cases) {
    await t.step(name, async () => {
      await assert.rejects(call(), (error: Error) => {
        assert.equal(error.name, errorName);
        assert.match(error.message, message);
        return true;
      });
    });
  }
});

// ---- across processes, on the backends that share state between processes ----

/** 4 processes × 50 concurrent produceOnce of one missing key: produce runs once. */
async function stampede(url: string, dir: string): Promise<void> {
  const { producers, values } = await runStampede(url, dir, 4, 50);
  assert.equal(producers.length, 1, `produce ran in processes ${producers.join(", ")}`);
  assert.equal(values.length, 200);
  assert.deepEqual(new Set(values), new Set([`produced by ${producers[0]}`]));
}

/** A holder killed while holding the lock blocks the next caller only until its lease ends. */
async function crashedHolder(url: string): Promise<void> {
  const key = `crash-${crypto.randomUUID()}`;
  const child = workerCommand(["hold", url, key, "1000"], false).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("holding")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  child.kill("SIGKILL");
  await reader.cancel();
  await child.status;
  assert.match(seen, /holding/);
  await using cache = cacheFromUrl(url);
  let produced = 0;
  const value = await produceOnce(
    cache,
    key,
    { lease: 1_000, deadline: Date.now() + 15_000 }, // a 1 s lease (up to 2 s on memcached)
    () => cache.get<string>(key),
    async () => {
      produced++;
      await cache.set(key, "recovered");
      return "recovered";
    },
  );
  assert.equal(value, "recovered");
  assert.equal(produced, 1);
}

for (const kind of ["redis", "memcached"] as const) {
  serverTest(
    `produceOnce over ${kind}: one produce across processes`,
    kind,
    async (t, [server]) => {
      const dir = await Deno.makeTempDir();
      // a first call loads the client and connects: give it room on a loaded machine
      const url = `${server!.url}?timeout=30000`;
      try {
        await t.step("4 processes × 50 concurrent calls of one missing key", async () => {
          await stampede(url, dir);
        });
        await t.step(
          "a holder killed while holding blocks waiters only until its lease",
          async () => {
            await crashedHolder(url);
          },
        );
        if (kind === "redis") {
          await t.step("the release is one compare-and-delete script", async () => {
            await using cache = new RedisCache({ url: server!.url });
            const release = (cache as unknown as Record<symbol, Release>)[
              Symbol.for("cachelib.deleteIfEquals")
            ]!.bind(cache);
            const lockKey = `${LOCK_PREFIX}${crypto.randomUUID()}`;
            await cache.set(lockKey, "mine");
            assert.equal(await release(lockKey, "theirs"), false);
            assert.equal(await cache.get(lockKey), "mine");
            assert.equal(await release(lockKey, "mine"), true);
            assert.equal(await cache.has(lockKey), false);
          });
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
}

type Release = (key: string, value: unknown) => Promise<boolean>;

for (const kind of ["file", "denokv"] as const) {
  const name = kind === "file" ? "FileSystemCache" : "DenoKvCache";
  Deno.test(`produceOnce over ${name}: one produce across processes`, async (t) => {
    const dir = await Deno.makeTempDir();
    const url = kind === "file" ? `file://${dir}/fs` : `denokv://${dir}/kv.db`;
    try {
      await t.step("4 processes × 50 concurrent calls of one missing key", async () => {
        await stampede(url, dir);
      });
      await t.step(
        "a holder killed while holding blocks waiters only until its lease",
        async () => {
          await crashedHolder(url);
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
