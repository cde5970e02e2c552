// MemcachedCache on a pool of real memcached servers: ring placement, what a
// lost server moves, the per-server breaker (killed and SIGSTOPped servers),
// key prefixes without a single point of failure, and getMany's partial
// failures. Each test starts its own pool (tests/cluster_servers.ts).
import assert from "node:assert/strict";
import { startMemcachedPool, topologyTest } from "./cluster_servers.ts";
import { KetamaRing } from "../backends/memcached/_ring.ts";
import { CacheBatchError, CacheConnectionError, MemcachedCache } from "../mod.ts";

const keysOf = (n: number, tag = "k") => Array.from({ length: n }, (_, i) => `${tag}:${i}`);

/** `call()` once it succeeds (a server marked down is probed after `downRetryDelay`). */
async function eventually<T>(what: string, call: () => Promise<T>): Promise<T> {
  for (let tries = 0;; tries++) {
    try {
      return await call();
    } catch (error) {
      if (tries === 200) throw new Error(`${what}: still failing`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** How long `call` takes to settle (resolve or reject), and its error if any. */
async function timed(call: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  try {
    await call();
    return { ms: performance.now() - started, error: undefined };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

/** Pauses a server (SIGSTOP) and waits until it no longer answers `version` within 200 ms. */
async function pauseAndWait(server: { port: number; pause(): void }): Promise<void> {
  server.pause();
  for (let tries = 0;; tries++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await conn.write(new TextEncoder().encode("version\r\n"));
      const answered = await Promise.race([
        conn.read(new Uint8Array(64)).then((n) => n !== null),
        new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), 200)),
      ]);
      if (!answered) return;
    } finally {
      clearTimeout(timer);
      conn.close();
    }
    if (tries === 50) throw new Error(`${server.port} still answers after SIGSTOP`);
  }
}

/** The keys (of `keys`) that the server at `address` alone holds, read without a prefix. */
async function heldBy(address: string, keys: readonly string[]): Promise<string[]> {
  await using one = new MemcachedCache({ servers: address });
  const values = await one.getMany(keys);
  return keys.filter((_, i) => values[i] !== undefined);
}

topologyTest(
  "MemcachedCache places keys on a libmemcached-compatible ring, the same for get, getMany and setMany",
  "memcached",
  async () => {
    await using pool = await startMemcachedPool(3);
    await using cache = new MemcachedCache({ servers: pool.addresses });
    const ring = new KetamaRing(pool.addresses);
    const keys = keysOf(300, "place");
    const half = keys.slice(0, 150);
    for (const key of half) assert.equal(await cache.set(key, key), true);
    assert.deepEqual(
      await cache.setMany(keys.slice(150).map((k) => [k, k] as const)),
      keys.slice(150),
    );
    for (const address of pool.addresses) {
      const expected = keys.filter((k) => ring.serverFor(k) === address);
      assert.ok(expected.length > 50, `${address} owns ${expected.length} of 300 on the ring`);
      assert.deepEqual(await heldBy(address, keys), expected, `keys held by ${address}`);
    }
    assert.deepEqual(await cache.getMany(keys), keys);
    assert.deepEqual(await Promise.all(keys.map((k) => cache.get(k))), keys);
    // With a prefix the ring hashes the key without prefix and generation: same servers.
    await using prefixed = new MemcachedCache({ servers: pool.addresses, keyPrefix: "p:" });
    await prefixed.setMany(keys.map((k) => [k, 1] as const));
    for (const [i, address] of pool.addresses.entries()) {
      await using alone = new MemcachedCache({ servers: address, keyPrefix: "p:" });
      const values = await alone.getMany(keys);
      const held = keys.filter((_, j) => values[j] !== undefined);
      assert.deepEqual(held, keys.filter((k) => ring.indexFor(k) === i), `prefixed on ${address}`);
    }
  },
);

topologyTest(
  'MemcachedCache with weights and with distribution: "modulo" places keys where the ring and memjs do',
  "memcached",
  async () => {
    await using pool = await startMemcachedPool(3);
    const [a, b, c] = pool.addresses as [string, string, string];
    const keys = keysOf(300, "weight");
    await using weighted = new MemcachedCache({
      servers: [{ address: a, weight: 3 }, b, c],
    });
    await weighted.setMany(keys.map((k) => [k, k] as const));
    const ring = new KetamaRing([{ address: a, weight: 3 }, b, c]);
    const heavy = await heldBy(a, keys);
    assert.deepEqual(heavy, keys.filter((k) => ring.serverFor(k) === a));
    assert.ok(heavy.length > 120, `weight 3 of 5 holds ${heavy.length} of 300`);
    await weighted.clear();

    await using modulo = new MemcachedCache({ servers: pool.addresses, distribution: "modulo" });
    await modulo.setMany(keys.map((k) => [k, k] as const));
    const memjs = (await import("memjs")).default;
    const raw = memjs.Client.create(pool.addresses.join(","), { logger: { log() {} } });
    try {
      for (const key of keys.slice(0, 60)) {
        const { value } = await raw.get(key);
        assert.equal(value?.toString(), key, `memjs finds ${key} where the cache put it`);
      }
    } finally {
      raw.close();
    }
  },
);

topologyTest(
  "MemcachedCache routes a given memjs client's requests on the ring, not by memjs's own hash",
  "memcached",
  async () => {
    await using pool = await startMemcachedPool(3);
    const memjs = (await import("memjs")).default;
    const client = memjs.Client.create(pool.addresses.join(","), { logger: { log() {} } });
    try {
      await using cache = new MemcachedCache({ client });
      const ring = new KetamaRing(pool.addresses);
      const keys = keysOf(120, "given");
      for (const key of keys) await cache.set(key, key);
      for (const address of pool.addresses) {
        assert.deepEqual(
          await heldBy(address, keys),
          keys.filter((k) => ring.serverFor(k) === address),
        );
      }
      assert.deepEqual(await cache.getMany(keys), keys);
    } finally {
      client.close();
    }
  },
);

topologyTest(
  "MemcachedCache keeps every key of the surviving servers when one of 3 leaves the ring",
  "memcached",
  async () => {
    await using pool = await startMemcachedPool(3);
    const keys = Array.from({ length: 3000 }, (_, i) => `user:${i}:profile`);
    await using all = new MemcachedCache({ servers: pool.addresses });
    assert.equal((await all.setMany(keys.map((k) => [k, 1] as const))).length, 3000);
    const ring = new KetamaRing(pool.addresses);
    for (const removed of pool.addresses) {
      await using rest = new MemcachedCache({
        servers: pool.addresses.filter((a) => a !== removed),
      });
      const values = await rest.getMany(keys);
      const readable = keys.filter((_, i) => values[i] !== undefined);
      assert.deepEqual(
        readable,
        keys.filter((k) => ring.serverFor(k) !== removed),
        `without ${removed}: exactly the keys of the other servers stay readable`,
      );
      // (N-1)/N = 66.7 %; a libmemcached ring's shares vary (see docs/benchmarks.md).
      assert.ok(readable.length > 0.55 * 3000, `without ${removed}: ${readable.length} of 3000`);
    }
  },
);

topologyTest(
  "MemcachedCache with a killed server: other keys work, its keys fail fast after one failure, then recover",
  "memcached",
  async () => {
    await using pool = await startMemcachedPool(3);
    const timeout = 2000;
    await using cache = new MemcachedCache({
      servers: pool.addresses,
      timeout,
      downRetryDelay: 300,
    });
    const ring = new KetamaRing(pool.addresses);
    const keys = keysOf(90, "kill");
    await cache.setMany(keys.map((k) => [k, k] as const));
    const dead = pool.servers[1]!;
    const theirs = keys.filter((k) => ring.serverFor(k) === dead.address);
    const ours = keys.filter((k) => ring.serverFor(k) !== dead.address);
    await dead.kill();

    const first = await timed(() => cache.get(theirs[0]!));
    assert.ok(first.error instanceof CacheConnectionError, String(first.error));
    assert.match((first.error as Error).message, new RegExp(`memcached at ${dead.address} failed`));
    for (const op of [() => cache.get(theirs[1]!), () => cache.set(theirs[2]!, 1)]) {
      const fast = await timed(op);
      assert.ok(fast.error instanceof CacheConnectionError, String(fast.error));
      assert.match(
        (fast.error as Error).message,
        new RegExp(`^Cannot (get|set) key ".*": memcached at ${dead.address} is marked down`),
      );
      assert.ok(fast.ms < timeout, `fails fast (${fast.ms.toFixed(0)} ms), not at the timeout`);
    }
    for (const key of ours) assert.equal(await cache.get(key), key);
    assert.deepEqual(await cache.getMany(ours), ours);

    const storing = await cache.setMany(keys.map((k) => [k, 2] as const)).catch((e) => e);
    assert.ok(storing instanceof CacheBatchError, String(storing));
    assert.deepEqual(storing.stored, ours, "setMany says which keys were stored");

    await dead.restart();
    assert.equal(await eventually("set after restart", () => cache.set(theirs[0]!, 3)), true);
    assert.equal(await cache.get(theirs[0]!), 3);
    assert.equal(await cache.get(theirs[1]!), undefined, "a restarted server is empty");
  },
);

topologyTest(
  "MemcachedCache with a SIGSTOPped server: one bounded wait, then fail-fast for its keys only, then recovery",
  "memcached",
  async () => {
    await using pool = await startMemcachedPool(3);
    const timeout = 2000;
    await using cache = new MemcachedCache({
      servers: pool.addresses,
      timeout,
      downRetryDelay: 300,
    });
    const ring = new KetamaRing(pool.addresses);
    const keys = keysOf(90, "stop");
    await cache.setMany(keys.map((k) => [k, k] as const));
    const hung = pool.servers[2]!;
    const theirs = keys.filter((k) => ring.serverFor(k) === hung.address);
    const ours = keys.filter((k) => ring.serverFor(k) !== hung.address);
    await pauseAndWait(hung);
    try {
      const first = await timed(() => cache.get(theirs[0]!));
      assert.ok(first.error instanceof CacheConnectionError, String(first.error));
      assert.match(
        (first.error as Error).message,
        /did not answer within 2000 ms|socket timed out/,
      );
      assert.ok(first.ms < timeout + 2000, "the first call is bounded by the timeout");
      const calls = [
        () => cache.get(theirs[1]!),
        () => cache.inc(theirs[2]!),
        () => cache.getMany([theirs[3]!]),
        () => cache.delete(theirs[4]!),
      ];
      for (const call of calls) {
        const fast = await timed(call);
        assert.ok(fast.error instanceof CacheConnectionError, String(fast.error));
        assert.match((fast.error as Error).message, /is marked down after a failure/);
        assert.ok(!(fast.error as Error).message.includes("@"), "no credentials, no userinfo");
        assert.ok(fast.ms < timeout, `fails fast (${fast.ms.toFixed(0)} ms)`);
      }
      const others = await timed(() => Promise.all(ours.map((k) => cache.get(k))));
      assert.equal(others.error, undefined);
      assert.ok(others.ms < timeout, "the other servers' keys do not wait for the hung one");
    } finally {
      hung.resume();
    }
    assert.equal(await eventually("get after SIGCONT", () => cache.get(theirs[5]!)), theirs[5]);
    assert.deepEqual(await cache.getMany(keys.slice(10, 30)), keys.slice(10, 30));
  },
);

topologyTest(
  "MemcachedCache.getMany over a pool with a failed server carries the other values, or reads misses with getManyFailOpen",
  "memcached",
  async () => {
    await using pool = await startMemcachedPool(3);
    const ring = new KetamaRing(pool.addresses);
    await using cache = new MemcachedCache({ servers: pool.addresses, timeout: 1000 });
    await using open = new MemcachedCache({
      servers: pool.addresses,
      timeout: 1000,
      getManyFailOpen: true,
    });
    const keys = keysOf(60, "many");
    await cache.setMany(keys.map((k) => [k, k] as const));
    const dead = pool.servers[0]!;
    await dead.kill();
    const lost = keys.filter((k) => ring.serverFor(k) === dead.address);
    const expected = keys.map((k) => lost.includes(k) ? undefined : k);

    const error = await cache.getMany(keys).catch((e) => e);
    assert.ok(error instanceof CacheBatchError, String(error));
    assert.deepEqual(error.values, expected, "the values of the servers that answered");
    assert.deepEqual(error.unread, lost);
    assert.ok(error.cause instanceof CacheConnectionError);
    assert.match(
      error.message,
      new RegExp(
        `^Cannot getMany: 1 of 3 servers failed \\(first: Cannot getMany: memcached at ${dead.address} .*\\); read ${
          60 - lost.length
        } of 60 keys`,
      ),
    );
    const dict = await cache.getDict(keys).catch((e) => e);
    assert.ok(dict instanceof CacheBatchError, "getDict too");

    assert.deepEqual(await open.getMany(keys), expected, "fail-open: misses for its keys");
    assert.deepEqual(await open.getMany(lost), lost.map(() => undefined));
    // Only the failed server's keys: nothing fails open when every server answers.
    await assert.rejects(cache.getMany(lost), CacheConnectionError);
  },
);

topologyTest(
  "MemcachedCache with a keyPrefix keeps the other servers' entries when any one server is lost or restarts",
  "memcached",
  async (t) => {
    await using pool = await startMemcachedPool(3);
    const keyPrefix = "app:";
    const ring = new KetamaRing(pool.addresses);
    const keys = keysOf(60, "survive");
    for (const [i, server] of pool.servers.entries()) {
      await t.step(`lose and restart ${server.address}`, async () => {
        await using writer = new MemcachedCache({
          servers: pool.addresses,
          keyPrefix,
          timeout: 1000,
        });
        await writer.setMany(keys.map((k) => [k, `${k}@${i}`] as const));
        const survivors = keys.filter((k) => ring.indexFor(k) !== i);
        await server.kill();
        // Another instance (as another process would), after the loss: no key gates the rest.
        await using reader = new MemcachedCache({
          servers: pool.addresses,
          keyPrefix,
          timeout: 1000,
        });
        for (const key of survivors) assert.equal(await reader.get(key), `${key}@${i}`);
        for (const key of survivors.slice(0, 5)) assert.equal(await writer.get(key), `${key}@${i}`);
        await server.restart();
        // After its restart too, a new instance reads every surviving entry.
        await using later = new MemcachedCache({
          servers: pool.addresses,
          keyPrefix,
          timeout: 1000,
        });
        assert.deepEqual(
          await later.getMany(keys),
          keys.map((k) => ring.indexFor(k) === i ? undefined : `${k}@${i}`),
        );
      });
    }
  },
);

topologyTest(
  "MemcachedCache.clear() with a keyPrefix: this instance never reads an old entry after it, others within generationTtl",
  "memcached",
  async () => {
    await using pool = await startMemcachedPool(3);
    const keyPrefix = "gen:";
    const keys = keysOf(30, "gen");
    await using a = new MemcachedCache({ servers: pool.addresses, keyPrefix });
    await using b = new MemcachedCache({ servers: pool.addresses, keyPrefix, generationTtl: 200 });
    await a.setMany(keys.map((k) => [k, 1] as const));
    assert.deepEqual(await b.getMany(keys), keys.map(() => 1), "b has read every generation");
    assert.equal(await a.clear(), true);
    assert.deepEqual(
      await a.getMany(keys),
      keys.map(() => undefined),
      "a sees its own clear at once",
    );
    await eventually("b sees the clear", async () => {
      assert.deepEqual(await b.getMany(keys), keys.map(() => undefined));
    });

    // A clear() that could not reach one server: this instance writes a new
    // generation there before it uses that server again.
    const ring = new KetamaRing(pool.addresses);
    await a.setMany(keys.map((k) => [k, 2] as const));
    const hung = pool.servers[1]!;
    const theirs = keys.filter((k) => ring.serverFor(k) === hung.address);
    await using c = new MemcachedCache({
      servers: pool.addresses,
      keyPrefix,
      timeout: 500,
      downRetryDelay: 100,
    });
    assert.deepEqual(await c.getMany(keys), keys.map(() => 2));
    await pauseAndWait(hung);
    const clearing = await c.clear().catch((e) => e);
    hung.resume();
    assert.ok(clearing instanceof CacheBatchError, String(clearing));
    assert.deepEqual(
      clearing.flushed,
      pool.addresses.filter((address) => address !== hung.address),
    );
    assert.equal(
      await eventually("get after SIGCONT", () => c.get(theirs[0]!)),
      undefined,
      "no old entry of the server the clear missed",
    );
    assert.deepEqual(await c.getMany(keys), keys.map(() => undefined));
  },
);

Deno.test("MemcachedCache checks its pool options with typed errors", () => {
  const cases: [Record<string, unknown>, ErrorConstructor, RegExp][] = [
    [{ distribution: "consistent" }, TypeError, /distribution must be "ketama" or "modulo"/],
    [{ downRetryDelay: -1 }, RangeError, /downRetryDelay must be a finite number of ms >= 0/],
    [{ generationTtl: Infinity }, RangeError, /generationTtl must be a finite number of ms >= 0/],
    [{ getManyFailOpen: "yes" }, TypeError, /getManyFailOpen must be a boolean/],
    [{ servers: [{ address: "h:1", weight: 0 }] }, RangeError, /weight must be an integer 1..1000/],
    [{ servers: [{ address: "h:1", weight: 1.5 }] }, RangeError, /weight must be an integer/],
    [{ servers: ["h:1", "h:1"] }, TypeError, /a server is listed twice: h:1, h:1/],
    [{ servers: ["h", "h:11211"] }, TypeError, /listed twice/],
  ];
  for (const [options, type, message] of cases) {
    assert.throws(
      () => new MemcachedCache(options as never),
      (e: Error) => e instanceof type && message.test(e.message),
      JSON.stringify(options),
    );
  }
  // Accepted: weights, both distributions, the breaker off, no generation cache.
  new MemcachedCache({
    servers: [{ address: "h:1", weight: 2 }, "h:2"],
    distribution: "modulo",
    downRetryDelay: 0,
    generationTtl: 0,
    getManyFailOpen: true,
  });
});
