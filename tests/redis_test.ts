import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createClient } from "redis";
import { runConformance } from "./conformance.ts";
import { type RunningServer, serverTest } from "./servers.ts";
import { CacheConnectionError, CacheError, RedisCache } from "../mod.ts";

const prefix = () => `test:${crypto.randomUUID()}:`;

/** A plain node-redis client on `server`, for looking behind the cache's back. */
async function rawClient(server: RunningServer) {
  const client = createClient({ url: server.url });
  client.on("error", () => {});
  await client.connect();
  return Object.assign(client, { [Symbol.asyncDispose]: () => client.close() });
}

serverTest("RedisCache conforms with a keyPrefix", "redis", async (t, [redis]) => {
  await runConformance(t, {
    name: "RedisCache(keyPrefix)",
    make: ({ defaultTtl }) => new RedisCache({ url: redis!.url, keyPrefix: prefix(), defaultTtl }),
    quirks: { clock: "server" },
  });
});

serverTest("RedisCache conforms without a keyPrefix", "redis", async (t, [redis]) => {
  await runConformance(t, {
    name: "RedisCache",
    make: async ({ defaultTtl }) => {
      const cache = new RedisCache({ url: redis!.url, defaultTtl });
      await cache.clear(); // FLUSHDB: each case starts from an empty database
      return cache;
    },
    quirks: { clock: "server" },
  });
});

serverTest(
  "RedisCache conforms over a client given as client (RESP2)",
  "redis",
  async (t, [redis]) => {
    const clients: { destroy(): void }[] = [];
    try {
      await runConformance(t, {
        name: "RedisCache(client)",
        make: ({ defaultTtl }) => {
          const client = createClient({ url: redis!.url, RESP: 2 });
          clients.push(client);
          return new RedisCache({ client, keyPrefix: prefix(), defaultTtl });
        },
        quirks: { clock: "server" },
      });
    } finally {
      for (const client of clients) client.destroy();
    }
  },
);

serverTest(
  "RedisCache stores integers as decimal text, strings as UTF-8, the rest tagged, and reads foreign bytes as strings",
  "redis",
  async (_t, [redis]) => {
    await using raw = await rawClient(redis!);
    const keyPrefix = prefix();
    await using cache = new RedisCache({ url: redis!.url, keyPrefix });
    await cache.setMany({ n: 42, neg: -7, s: "héllo", digits: "42", obj: { a: 1 }, f: 1.5 });
    assert.equal(await raw.get(keyPrefix + "n"), "42");
    assert.equal(await raw.incrBy(keyPrefix + "n", 8), 50, "INCRBY works on a value set()");
    assert.equal(await cache.get("n"), 50);
    assert.equal(await raw.get(keyPrefix + "neg"), "-7");
    assert.equal(await raw.get(keyPrefix + "s"), "héllo");
    const tag = (key: string) =>
      raw.withTypeMapping({ 36: Buffer }).get(keyPrefix + key).then((b) => (b as Buffer)[0]);
    assert.equal(await tag("digits"), 0xff, "a string of digits is tagged, not a number");
    assert.equal(await tag("obj"), 0xff);
    assert.equal(await tag("f"), 0xff);
    assert.deepEqual(await cache.getMany(["digits", "obj", "f"]), ["42", { a: 1 }, 1.5]);

    await raw.set(keyPrefix + "foreign", "written by another program");
    await raw.set(keyPrefix + "foreignInt", "123");
    await raw.set(keyPrefix + "leadingZero", "007");
    await raw.set(keyPrefix + "binary", Buffer.from([0xc3, 0x28, 0x00]));
    await raw.set(keyPrefix + "bom", "\ufeffbom");
    assert.equal(await cache.get("foreign"), "written by another program");
    assert.equal(await cache.get("foreignInt"), 123);
    assert.equal(await cache.get("leadingZero"), "007");
    assert.equal(await cache.get("binary"), "\ufffd(\u0000");
    assert.equal(await cache.get("bom"), "\ufeffbom", "a leading BOM is kept");
    await cache.set("bom2", "\ufeffx");
    assert.equal(await cache.get("bom2"), "\ufeffx");
    await cache.set("lone", "a\ud800b");
    assert.equal(await cache.get("lone"), "a\ud800b", "a lone surrogate survives (tagged)");
  },
);

serverTest(
  "RedisCache.clear() with a keyPrefix removes only its keys, glob characters included",
  "redis",
  async (_t, [redis]) => {
    await using raw = await rawClient(redis!);
    await raw.set("other:keep", "1");
    await raw.set("t1xy:z", "an unescaped t[1]*?:* would match this");
    await raw.set("t[1]*?", "exactly the prefix is another program's key too");
    await using cache = new RedisCache({ url: redis!.url, keyPrefix: "t[1]*?:" });
    const many = Object.fromEntries(Array.from({ length: 2500 }, (_, i) => [`k${i}`, i]));
    assert.equal((await cache.setMany(many)).length, 2500);
    assert.equal(await cache.clear(), true);
    assert.equal(await raw.dbSize(), 3);
    assert.equal(await raw.get("other:keep"), "1");
    assert.equal(await raw.get("t1xy:z"), "an unescaped t[1]*?:* would match this");
    assert.equal(await raw.exists("t[1]*?"), 1);
    assert.equal(await cache.clear(), true, "nothing to clear is still a success");
  },
);

serverTest(
  "RedisCache.clear() without a keyPrefix empties the selected database (FLUSHDB)",
  "redis",
  async (_t, [redis]) => {
    await using raw = await rawClient(redis!);
    await raw.set("foreign", "1");
    await using cache = new RedisCache({ url: redis!.url });
    await cache.set("mine", 1);
    assert.equal(await cache.clear(), true);
    assert.equal(await raw.dbSize(), 0);
  },
);

serverTest("RedisCache: 50 concurrent add() of one key store exactly once", "redis", async (
  _t,
  [redis],
) => {
  await using cache = new RedisCache({ url: redis!.url, keyPrefix: prefix() });
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => cache.add("once", i)));
  assert.equal(results.filter((stored) => stored).length, 1);
  assert.equal(await cache.get("once"), results.indexOf(true));
});

serverTest("RedisCache.inc() from 2 processes × 500 counts exactly 1000", "redis", async (
  _t,
  [redis],
) => {
  const keyPrefix = prefix();
  const fixture = new URL("./fixtures/redis_inc.ts", import.meta.url).pathname;
  const config = new URL("../deno.json", import.meta.url).pathname;
  const run = () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", config, fixture, redis!.url, keyPrefix, "counter", "500"],
      stdout: "piped",
      stderr: "piped",
    }).output();
  const outputs = await Promise.all([run(), run()]);
  for (const output of outputs) {
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    assert.equal(new TextDecoder().decode(output.stdout).trim(), "done");
  }
  await using cache = new RedisCache({ url: redis!.url, keyPrefix });
  assert.equal(await cache.get("counter"), 1000);
});

serverTest(
  "RedisCache.inc() keeps an existing TTL and gives a created key the default ttl",
  "redis",
  async (_t, [redis]) => {
    await using raw = await rawClient(redis!);
    const keyPrefix = prefix();
    await using cache = new RedisCache({ url: redis!.url, keyPrefix, defaultTtl: 120_000 });
    await cache.set("short", 5, 60_000);
    assert.equal(await cache.inc("short", 3), 8);
    const kept = await raw.pTTL(keyPrefix + "short");
    assert.ok(kept > 50_000 && kept <= 60_000, `PTTL ${kept}`);
    assert.equal(await cache.dec("created", 2), -2);
    const created = await raw.pTTL(keyPrefix + "created");
    assert.ok(created > 110_000 && created <= 120_000, `PTTL ${created}`);
    await using plain = new RedisCache({ url: redis!.url, keyPrefix });
    await plain.set("default", "d");
    const standard = await raw.pTTL(keyPrefix + "default");
    assert.ok(standard > 290_000 && standard <= 300_000, `default ttl PTTL ${standard}`);
    await cache.set("forever", 1, 0);
    assert.equal(await cache.inc("forever"), 2);
    assert.equal(await raw.pTTL(keyPrefix + "forever"), -1, "no expiry stays no expiry");
    await raw.set(keyPrefix + "text", "abc");
    await assert.rejects(cache.inc("text"), {
      name: "TypeError",
      message: 'Cannot inc key "text": stored value is not a safe integer, found "abc"',
    });
    await raw.set(keyPrefix + "huge", "99999999999999999999");
    await assert.rejects(cache.inc("huge"), TypeError);
    await cache.set("min", -Number.MAX_SAFE_INTEGER);
    await assert.rejects(cache.dec("min"), {
      name: "RangeError",
      message: `Cannot dec key "min": result ${
        -Number.MAX_SAFE_INTEGER - 1
      } is outside the safe integer range`,
    });
    assert.equal(await cache.get("min"), -Number.MAX_SAFE_INTEGER);
    await raw.scriptFlush();
    assert.equal(await cache.inc("short"), 9, "works again after SCRIPT FLUSH (EVAL fallback)");
    await raw.rPush(keyPrefix + "list", "x");
    await assert.rejects(
      cache.inc("list"),
      (e: Error) =>
        e instanceof CacheError && !(e instanceof CacheConnectionError) &&
        e.message.includes('"list"') && /WRONGTYPE/.test(e.message),
    );
  },
);

serverTest(
  "RedisCache: a stopped server makes every call reject with CacheConnectionError within the timeout; the same instance recovers after a restart",
  "redis",
  async (_t, [redis]) => {
    const timeout = 1000;
    await using cache = new RedisCache({ url: redis!.url, keyPrefix: prefix(), timeout });
    assert.equal(await cache.set("a", 1), true);
    await redis!.stop();
    const calls: [string, () => Promise<unknown>][] = [
      ["get", () => cache.get("a")],
      ["getMany", () => cache.getMany(["a", "b"])],
      ["getDict", () => cache.getDict(["a"])],
      ["set", () => cache.set("a", 2)],
      ["add", () => cache.add("b", 2)],
      ["setMany", () => cache.setMany({ a: 1, b: 2 })],
      ["delete", () => cache.delete("a")],
      ["deleteMany", () => cache.deleteMany(["a", "b"])],
      ["has", () => cache.has("a")],
      ["clear", () => cache.clear()],
      ["inc", () => cache.inc("n")],
      ["dec", () => cache.dec("n")],
      ["getOrSet", () => cache.getOrSet("c", () => 3)],
    ];
    for (const [name, call] of calls) {
      const started = performance.now();
      await assert.rejects(
        call(),
        (e: Error) =>
          e instanceof CacheConnectionError && e.cause !== undefined &&
          // getDict() reads through getMany(), getOrSet() through get()
          e.message.startsWith(`Cannot ${{ getDict: "getMany", getOrSet: "get" }[name] ?? name}`) &&
          e.message.includes(`redis at ${redis!.address} is unavailable`),
        name,
      );
      const took = performance.now() - started;
      assert.ok(took < timeout + 1000, `${name} took ${took} ms`);
    }
    const concurrent = await Promise.allSettled(calls.map(([, call]) => call()));
    assert.ok(concurrent.every((r) => r.status === "rejected"));
    await redis!.restart();
    assert.equal(await cache.set("a", "back"), true);
    assert.equal(await cache.get("a"), "back");
    assert.equal(await cache.inc("n"), 1);
    assert.deepEqual(await cache.setMany({ x: 1 }), ["x"]);
  },
);

serverTest(
  "RedisCache: a server that stops answering makes calls reject within the timeout; the instance works again after",
  "redis",
  async (_t, [redis]) => {
    await using raw = await rawClient(redis!);
    const timeout = 300;
    await using cache = new RedisCache({ url: redis!.url, keyPrefix: prefix(), timeout });
    const client = createClient({ url: redis!.url });
    await using given = new RedisCache({ client, keyPrefix: prefix(), timeout });
    assert.equal(await cache.set("a", 1), true);
    assert.equal(await given.set("a", 1), true);
    await raw.sendCommand(["CLIENT", "PAUSE", "1500", "ALL"]);
    const started = performance.now();
    const results = await Promise.allSettled([
      given.get("a"),
      cache.get("a"),
      cache.set("b", 2),
      cache.setMany({ c: 3 }),
      cache.inc("n"),
    ]);
    for (const result of results) {
      assert.equal(result.status, "rejected");
      const error = (result as PromiseRejectedResult).reason;
      assert.ok(error instanceof CacheConnectionError, String(error));
      assert.match(error.message, new RegExp(`no answer within ${timeout} ms`));
    }
    assert.ok(performance.now() - started < timeout + 1000, "rejected within the timeout");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(await cache.get("a"), 1);
    assert.equal(await cache.inc("n"), 1);
    assert.equal(await given.get("a"), 1);
    client.destroy();
  },
);

Deno.test("RedisCache: a server that never answers makes calls reject within the timeout", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn);
  })();
  const timeout = 300;
  const { port } = listener.addr as Deno.NetAddr;
  const cache = new RedisCache({ url: `redis://127.0.0.1:${port}`, timeout });
  try {
    for (const call of [() => cache.get("a"), () => cache.setMany({ a: 1 })]) {
      const started = performance.now();
      await assert.rejects(
        call(),
        (e: Error) =>
          e instanceof CacheConnectionError && e.message.includes(`no answer within ${timeout} ms`),
      );
      assert.ok(performance.now() - started < timeout + 1000);
    }
  } finally {
    await cache.close();
    listener.close();
    await accepting;
    for (const conn of conns) conn.close();
  }
});

Deno.test("RedisCache: nothing listening rejects with CacheConnectionError naming the address", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = probe.addr as Deno.NetAddr;
  probe.close();
  await using cache = new RedisCache({ url: `redis://127.0.0.1:${port}`, timeout: 1000 });
  await assert.rejects(cache.get("k"), {
    name: "CacheConnectionError",
    message: new RegExp(`^Cannot get key "k": redis at 127\\.0\\.0\\.1:${port} is unavailable`),
  });
});

serverTest(
  "RedisCache uses a client given as client and leaves it open on close()",
  "redis",
  async (_t, [redis]) => {
    const client = createClient({ url: redis!.url });
    try {
      const cache = new RedisCache({ client, keyPrefix: prefix() });
      assert.equal(await cache.set("a", { deep: [1] }), true, "connects the client if needed");
      assert.deepEqual(await cache.get("a"), { deep: [1] });
      assert.equal(await cache.inc("n", 2), 2);
      assert.deepEqual(await cache.setMany({ b: 2 }), ["b"]);
      await cache.close();
      assert.equal(client.isOpen, true);
      assert.equal(await client.ping(), "PONG");
      assert.equal(client.listenerCount("error"), 0, "close() removes its error listener");
    } finally {
      client.destroy();
    }
  },
);

serverTest(
  "RedisCache: an error reply is a CacheError naming the key, not a connection error",
  "redis",
  async (_t, [redis]) => {
    await using raw = await rawClient(redis!);
    await using cache = new RedisCache({ url: redis!.url, keyPrefix: prefix() });
    await cache.set("kept", 1);
    await raw.configSet({ maxmemory: "1", "maxmemory-policy": "noeviction" });
    const isOom = (op: string, key: string) => (e: Error) =>
      e instanceof CacheError && !(e instanceof CacheConnectionError) &&
      e.message.startsWith(`Cannot ${op} key "${key}": redis replied OOM`);
    await assert.rejects(cache.set("a", 1), isOom("set", "a"));
    await assert.rejects(cache.setMany({ b: 1, c: 2 }), isOom("setMany", "b"));
    assert.equal(await cache.get("kept"), 1, "reads still work");
    assert.deepEqual(await cache.deleteMany(["kept", "none"]), ["kept"]);
    await raw.configSet({ maxmemory: "0" });
    assert.deepEqual(await cache.setMany({ b: 1, c: 2 }), ["b", "c"]);
  },
);

serverTest("RedisCache.getMany() is one MGET", "redis", async (_t, [redis]) => {
  await using raw = await rawClient(redis!);
  await using cache = new RedisCache({ url: redis!.url, keyPrefix: prefix() });
  const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
  await cache.setMany(keys.map((k, i) => [k, i] as const));
  await raw.configResetStat();
  assert.deepEqual(await cache.getMany(keys), keys.map((_, i) => i));
  const stats = await raw.info("commandstats");
  assert.match(stats, /cmdstat_mget:calls=1,/);
  assert.doesNotMatch(stats, /cmdstat_get:/);
});

Deno.test("RedisCache checks its options", () => {
  assert.throws(() => new RedisCache({ timeout: 0 }), {
    name: "RangeError",
    message: "Cannot create cache: timeout must be a finite number of milliseconds > 0, received 0",
  });
  assert.throws(
    () => new RedisCache({ url: "http://x" }),
    /must be a redis:\/\/ or rediss:\/\/ URL/,
  );
  assert.throws(
    () => new RedisCache({ url: "redis://x", client: createClient() }),
    /either url or client/,
  );
  assert.throws(() => new RedisCache({ keyPrefix: 1 as unknown as string }), TypeError);
  assert.throws(() => new RedisCache({ defaultTtl: -1 }), RangeError);
});
