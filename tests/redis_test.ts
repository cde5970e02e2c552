import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createClient, createCluster, createSentinel } from "redis";
import { runConformance } from "../testing.ts";
import { IN_CI, type RunningServer, serverMissing, serverTest } from "./servers.ts";
import {
  type Cache,
  CacheConnectionError,
  CacheError,
  RedisCache,
  SerializationError,
  type Serializer,
} from "../mod.ts";
import { clientLoader, RedisConnection } from "../backends/redis/_connection.ts";

const prefix = () => `test:${crypto.randomUUID()}:`;

/** A plain node-redis client on `server`, for looking behind the cache's back. */
async function rawClient(server: RunningServer) {
  const client = createClient({ url: server.url });
  client.on("error", () => {});
  await client.connect();
  return Object.assign(client, { [Symbol.asyncDispose]: () => client.close() });
}

/** Plants a Redis list under `key` of `cache`: a key of another type. */
const plantList = (raw: { rPush(key: string, value: string): Promise<unknown> }) =>
async (
  cache: Cache,
  key: string,
): Promise<"foreign"> => {
  await raw.rPush((cache as RedisCache).keyPrefix + key, "a list, not a cache entry");
  return "foreign";
};

serverTest("RedisCache conforms with a keyPrefix", "redis", async (t, [redis]) => {
  await using raw = await rawClient(redis!);
  await runConformance(t, {
    name: "RedisCache(keyPrefix)",
    make: ({ defaultTtl, serializer }) =>
      new RedisCache({ url: redis!.url, keyPrefix: prefix(), defaultTtl, serializer }),
    quirks: { clock: "server", serializes: true },
    corrupt: plantList(raw),
  });
});

serverTest("RedisCache conforms without a keyPrefix", "redis", async (t, [redis]) => {
  await using raw = await rawClient(redis!);
  await runConformance(t, {
    name: "RedisCache",
    make: async ({ defaultTtl, serializer }) => {
      const cache = new RedisCache({ url: redis!.url, defaultTtl, serializer });
      await cache.clear(); // FLUSHDB: each case starts from an empty database
      return cache;
    },
    quirks: { clock: "server", serializes: true, clearScope: "store" },
    corrupt: plantList(raw),
  });
});

serverTest(
  "RedisCache conforms over a client given as client (RESP2)",
  "redis",
  async (t, [redis]) => {
    const clients: { destroy(): void }[] = [];
    await using raw = await rawClient(redis!);
    try {
      await runConformance(t, {
        name: "RedisCache(client)",
        make: ({ defaultTtl, serializer }) => {
          const client = createClient({ url: redis!.url, RESP: 2 });
          clients.push(client);
          return new RedisCache({ client, keyPrefix: prefix(), defaultTtl, serializer });
        },
        quirks: { clock: "server", serializes: true },
        corrupt: plantList(raw),
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
    // A reply's failure carries the call and key as fields (the script fallback reads the
    // reply's code from the cause, never this message).
    await assert.rejects(cache.inc("list"), { op: "inc", key: "list" });
    await raw.scriptFlush();
    await assert.rejects(cache.inc("list"), { op: "inc", key: "list", message: /WRONGTYPE/ });
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
    message: "Cannot create RedisCache: timeout must be a finite number of ms > 0, received 0",
  });
  // The shared timeout check (backends/_toolkit/options.ts) and the one constructor prefix.
  assert.throws(() => new RedisCache({ timeout: "1000" as unknown as number }), {
    name: "RangeError",
    message: 'Cannot create RedisCache: timeout must be a finite number of ms > 0, received "1000"',
  });
  assert.throws(() => new RedisCache({ keyPrefix: 1 as unknown as string }), {
    name: "TypeError",
    message: "Cannot create RedisCache: keyPrefix must be a string, received 1",
  });
  assert.throws(
    () => new RedisCache({ url: "http://x" }),
    /must be a redis:\/\/ or rediss:\/\/ URL/,
  );
  assert.throws(
    () => new RedisCache({ url: "redis://x", client: createClient() }),
    /give one of url, client, cluster or sentinel, received url and client/,
  );
  assert.throws(() => new RedisCache({ keyPrefix: 1 as unknown as string }), TypeError);
  assert.throws(() => new RedisCache({ defaultTtl: -1 }), RangeError);
});

/** Gzip-like stand-in: XORs the default layout's bytes, so plaintext never reaches Redis. */
const xorSerializer: Serializer = {
  serialize: (value) =>
    new TextEncoder().encode(JSON.stringify(value)).map((b) => b ^ 0xa5).map((b) => b),
  deserialize: (bytes) => JSON.parse(new TextDecoder().decode(bytes.map((b) => b ^ 0xa5))),
};

serverTest(
  "RedisCache with a custom serializer stores no value raw: strings and integers go through it, counters stay raw integers",
  "redis",
  async (_t, [redis]) => {
    await using raw = await rawClient(redis!);
    const bytes = raw.withTypeMapping({ 36: Buffer });
    const keyPrefix = prefix();
    await using cache = new RedisCache({ url: redis!.url, keyPrefix, serializer: xorSerializer });
    const secret = "my card number 4111 1111 1111 1111";
    await cache.set("card", secret);
    await cache.add("added", "plain words");
    await cache.setMany({ many: "more plain words", n: 42 });
    await cache.set("int", 7);
    for (const key of ["card", "added", "many", "n", "int"]) {
      const stored = (await bytes.get(keyPrefix + key)) as Buffer;
      assert.equal(stored[0], 0xff, `${key} is tagged`);
      const text = stored.toString("latin1");
      assert.ok(!/4111|plain|words|42|^7$/.test(text), `${key} stored as ${JSON.stringify(text)}`);
    }
    assert.equal(await cache.get("card"), secret);
    assert.deepEqual(await cache.getMany(["added", "many", "n", "int"]), [
      "plain words",
      "more plain words",
      42,
      7,
    ]);
    assert.equal(await cache.inc("int", 3), 10, "inc() of a serialized number");
    assert.equal(await raw.get(keyPrefix + "int"), "10", "…leaves a raw counter (INCRBY-able)");
    assert.equal(await cache.inc("counter"), 1);
    assert.equal(await raw.get(keyPrefix + "counter"), "1");
    assert.equal(await raw.incrBy(keyPrefix + "counter", 4), 5);
    assert.equal(await cache.get("counter"), 5);
    await cache.set("ttl", 5, 60_000);
    assert.equal(await cache.inc("ttl"), 6);
    const kept = await raw.pTTL(keyPrefix + "ttl");
    assert.ok(kept > 50_000 && kept <= 60_000, `the replaced number keeps its expiry: ${kept}`);
    // an untagged non-integer was not written through this serializer: refused, not read raw
    await raw.set(keyPrefix + "foreign", "plain text from another program");
    await assert.rejects(
      cache.get("foreign"),
      (e: Error) =>
        e instanceof SerializationError && e.message.includes('"foreign"') &&
        e.message.includes("not written through this cache's serializer"),
    );
    await assert.rejects(cache.getMany(["card", "foreign"]), SerializationError);
    await assert.rejects(cache.inc("foreign"), TypeError);
  },
);

serverTest("RedisCache.inc() on a stored -0 stores the result", "redis", async (_t, [redis]) => {
  await using raw = await rawClient(redis!);
  const keyPrefix = prefix();
  await using cache = new RedisCache({ url: redis!.url, keyPrefix });
  await cache.set("z", -0);
  assert.ok(Object.is(await cache.get("z"), -0));
  assert.equal(await cache.inc("z", 5), 5);
  assert.equal(await cache.get("z"), 5);
  assert.equal(await raw.get(keyPrefix + "z"), "5");
  await cache.set("f", 2.0);
  assert.equal(await cache.dec("f"), 1);
  await cache.set("z2", -0);
  const both = await Promise.all([cache.inc("z2"), cache.inc("z2"), cache.inc("z2")]);
  assert.deepEqual(both.sort(), [1, 2, 3], "concurrent incs of a stored -0 all count");
  assert.equal(await cache.get("z2"), 3);
});

serverTest(
  "RedisCache: keys with lone surrogates are their own Redis keys (WTF-8); well-formed keys and prefixes are byte-identical to before",
  "redis",
  async (_t, [redis]) => {
    await using raw = await rawClient(redis!);
    const bytes = raw.withTypeMapping({ 36: Buffer });
    const keyPrefix = prefix();
    await using cache = new RedisCache({ url: redis!.url, keyPrefix });
    await cache.set("\uD800", "x");
    assert.equal(await cache.get("\uFFFD"), undefined);
    assert.equal(await cache.get("\uD800"), "x");
    assert.equal(
      await raw.exists(Buffer.concat([Buffer.from(keyPrefix), Buffer.from([0xed, 0xa0, 0x80])])),
      1,
      "stored under the WTF-8 bytes of the key",
    );
    await cache.set("plain ✓", "p");
    assert.equal(await raw.get(keyPrefix + "plain ✓"), "p", "a well-formed key is unchanged");

    // an ill-formed prefix: distinct from its lossy twin, and clear() finds its keys
    await using lone = new RedisCache({ url: redis!.url, keyPrefix: `${keyPrefix}\uDC00:` });
    await using twin = new RedisCache({ url: redis!.url, keyPrefix: `${keyPrefix}\uFFFD:` });
    await lone.setMany({ a: 1, "\uD800": 2 });
    await twin.setMany({ a: 10, "\uD800": 20 });
    assert.deepEqual(await lone.getMany(["a", "\uD800"]), [1, 2]);
    assert.deepEqual(await twin.getMany(["a", "\uD800"]), [10, 20]);
    assert.equal(await lone.clear(), true);
    assert.deepEqual(await lone.getMany(["a", "\uD800"]), [undefined, undefined]);
    assert.deepEqual(await twin.getMany(["a", "\uD800"]), [10, 20], "the twin prefix is kept");
    assert.equal(await cache.get("\uD800"), "x");
    // a prefix ending in a high surrogate and a key starting with a low one stay apart
    await using high = new RedisCache({ url: redis!.url, keyPrefix: `${keyPrefix}\uD800` });
    await high.set("\uDC00", "split");
    assert.equal(await cache.get("\u{10000}"), undefined);
    assert.equal(await high.get("\uDC00"), "split");
    const stored = await bytes.keys(`${keyPrefix}*`);
    assert.ok(stored.length >= 3);
  },
);

serverTest(
  "RedisCache: a key of another Redis type is a foreign entry, one answer in every method",
  "redis",
  async (_t, [redis]) => {
    await using raw = await rawClient(redis!);
    const keyPrefix = prefix();
    await using cache = new RedisCache({ url: redis!.url, keyPrefix });
    await raw.rPush(keyPrefix + "list", "x");
    await raw.hSet(keyPrefix + "hash", "f", "v");
    await cache.set("ok", 1);
    const foreign = (op: string, key: string) => (e: Error) =>
      e instanceof SerializationError && e.message.startsWith(`Cannot ${op} key "${key}"`) &&
      e.message.includes("another redis type");
    await assert.rejects(cache.get("list"), foreign("get", "list"));
    await assert.rejects(cache.getMany(["ok", "missing", "list"]), foreign("getMany", "list"));
    await assert.rejects(cache.getDict(["hash"]), foreign("getMany", "hash"));
    await assert.rejects(cache.inc("list"), foreign("inc", "list"));
    await assert.rejects(cache.getOrSet("list", () => 1), SerializationError);
    assert.equal(await cache.has("list"), true, "an entry is there");
    assert.equal(await cache.add("list", 1), false, "so add() does not store");
    assert.deepEqual(await cache.getMany(["ok", "missing"]), [1, undefined], "misses stay misses");
    assert.equal(await cache.delete("hash"), true, "delete() removes it");
    assert.equal(await cache.set("list", "mine"), true, "set() replaces it");
    assert.equal(await cache.get("list"), "mine");
  },
);

Deno.test("RedisCache rejects unknown options, listing the accepted ones", () => {
  assert.throws(
    () => new RedisCache({ host: "cache.internal", port: 6380 } as unknown as object),
    {
      name: "TypeError",
      message: 'Cannot create RedisCache: unknown options "host", "port" ' +
        "(accepted: client, cluster, defaultTtl, keyPrefix, sentinel, serializer, timeout, url)",
    },
  );
});

/** Every text an error carries: message, stack, and the same for each cause. */
function errorTexts(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e !== undefined && depth < 10; depth++) {
    if (e instanceof Error) {
      parts.push(e.message, e.stack ?? "", String(e));
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join("\n");
}

Deno.test("RedisCache: no error about a url carries its credentials", async (t) => {
  const secret = "s3cr3tPW";
  await t.step("urls refused by the constructor", () => {
    for (
      const url of [
        `redis://user:${secret}@host/abc`,
        `redis://user:${secret}%zz@host`,
        `redis://us er:${secret} x@[bad`,
        `redis://user:${secret}@`,
        `http://user:${secret}@host`,
        `redis://:${secret}@host/0/1`,
        `redis://user:p@${secret}@host/x`,
        `redis://${secret}@host/db`,
      ]
    ) {
      let error: unknown;
      try {
        new RedisCache({ url });
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof TypeError, url);
      assert.ok(!errorTexts(error).includes(secret), errorTexts(error));
    }
  });
  await t.step("connection failures", async () => {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = probe.addr as Deno.NetAddr;
    probe.close();
    for (
      const url of [
        `redis://user:${secret}@127.0.0.1:${port}`,
        `redis://:${secret}@127.0.0.1:${port}/2`,
        `redis://u%40x:${secret}%40y@127.0.0.1:${port}`,
        `redis://user:${secret}@nonexistent.invalid:${port}`,
      ]
    ) {
      await using cache = new RedisCache({ url, timeout: 2000 });
      for (const call of [() => cache.get("k"), () => cache.setMany({ a: 1 })]) {
        const error = await call().catch((e) => e);
        assert.ok(error instanceof CacheConnectionError, String(error));
        assert.ok(!errorTexts(error).includes(secret), errorTexts(error));
      }
    }
  });
  await t.step("an error quoting the url is redacted, cause included", () => {
    const url = `redis://admin:${secret}@10.0.0.1:6379`;
    const connection = new RedisConnection({ url, client: undefined, timeout: 100 });
    const quoting = new Error(`cannot use ${url}`, {
      cause: new Error(`password ${encodeURIComponent(secret)} refused`),
    });
    const error = connection.failure("get", "k", quoting);
    assert.ok(error instanceof CacheConnectionError);
    assert.ok(!errorTexts(error).includes(secret), errorTexts(error));
    assert.match(error.message, /cannot use redis:\/\/\*\*\*@10\.0\.0\.1:6379/);
    assert.equal((error.cause as Error).name, "Error");
  });
});

serverTest(
  "RedisCache: a wrong password in the url is refused without echoing it",
  "redis",
  async (_t, [redis]) => {
    await using raw = await rawClient(redis!);
    const secret = "rightPW-9f2";
    await raw.configSet("requirepass", secret);
    try {
      for (const password of ["wrongPW-77", encodeURIComponent("p@ss:w/rd")]) {
        await using cache = new RedisCache({
          url: `redis://u:${password}@${redis!.address}`,
          timeout: 2000,
        });
        const error = await cache.get("k").catch((e) => e);
        assert.ok(error instanceof CacheError, String(error));
        assert.match(
          error.message,
          /^Cannot get key "k": redis replied WRONGPASS invalid username-/,
        );
        const texts = errorTexts(error);
        assert.ok(!texts.includes(password) && !texts.includes("p@ss"), texts);
        assert.ok(!texts.includes(secret));
      }
      await using good = new RedisCache({
        url: `redis://default:${secret}@${redis!.address}`,
        timeout: 2000,
      });
      assert.equal(await good.set("k", 1), true);
    } finally {
      const admin = createClient({ url: `redis://default:${secret}@${redis!.address}` });
      await admin.connect();
      await admin.configSet("requirepass", "");
      await admin.close();
    }
  },
);

Deno.test("RedisCache: the first call's deadline covers loading the client and connecting", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn);
  })();
  const load = clientLoader.load;
  let release = () => {};
  const loaded = new Promise<void>((resolve) => release = resolve);
  clientLoader.load = () => loaded.then(load);
  const timeout = 200;
  const cache = new RedisCache({ url: `redis://127.0.0.1:${port}`, timeout });
  try {
    // the client cannot load before the deadline: the call still ends, saying why
    await assert.rejects(
      cache.get("k"),
      (e: Error) =>
        e instanceof CacheError && !(e instanceof CacheConnectionError) &&
        e.message ===
          `Cannot get key "k": the redis client npm:redis@6.3.1 did not load within ${timeout} ms`,
    );
    await assert.rejects(cache.setMany({ a: 1 }), /did not load within 200 ms/);
    const other = new RedisCache({ url: `redis://127.0.0.1:${port}`, timeout });
    await assert.rejects(other.get("k"), /did not load within 200 ms/);
    await other.close(); // waits at most the timeout for the load, which never ends here
    await assert.rejects(other.get("k"), /the cache is closed/);
    release();
    // loaded now; the silent server is what the deadline reports
    await assert.rejects(
      cache.get("k"),
      (e: Error) =>
        e instanceof CacheConnectionError && e.message.includes(`no answer within ${timeout} ms`),
    );
  } finally {
    clientLoader.load = load;
    release();
    await cache.close();
    listener.close();
    await accepting;
    for (const conn of conns) conn.close();
  }
});

/** Runs `source` as a module of a fresh project outside this repository. */
async function runOutside(
  source: string,
  options: { config?: string; env?: Record<string, string>; flags?: string[] } = {},
) {
  const dir = await Deno.makeTempDir({ prefix: "cachelib-importer-" });
  try {
    if (options.config !== undefined) await Deno.writeTextFile(`${dir}/deno.json`, options.config);
    await Deno.writeTextFile(`${dir}/main.ts`, source);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ...(options.flags ?? []), "main.ts"],
      cwd: dir,
      env: { NO_COLOR: "1", ...options.env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const modUrl = new URL("../mod.ts", import.meta.url).href;

serverTest(
  "RedisCache works when imported by URL from another project (with its own deno.json, or none)",
  "redis",
  async (t, [redis]) => {
    const source = `import { RedisCache } from "${modUrl}";
await using cache = new RedisCache({ url: "${
      redis!.url
    }", keyPrefix: "outside:", timeout: 10_000 });
await cache.set("a", { from: "outside" });
console.log(JSON.stringify([await cache.get("a"), await cache.inc("n")]));`;
    const projects: [string, string | undefined][] = [
      ["its own deno.json", "{}"],
      ["no deno.json", undefined],
    ];
    for (const [i, [name, config]] of projects.entries()) {
      await t.step(name, async () => {
        const out = await runOutside(source, config === undefined ? {} : { config });
        assert.equal(out.code, 0, out.stderr);
        assert.deepEqual(JSON.parse(out.stdout), [{ from: "outside" }, i + 1]);
      });
    }
    await using raw = await rawClient(redis!);
    assert.equal(await raw.get("outside:n"), "2");
  },
);

Deno.test("RedisCache: a client that cannot load is a CacheError that says so", async () => {
  const denoDir = await Deno.makeTempDir({ prefix: "cachelib-empty-deno-dir-" });
  try {
    const out = await runOutside(
      `import { RedisCache, CacheConnectionError } from "${modUrl}";
await using cache = new RedisCache({ url: "redis://127.0.0.1:1", timeout: 20_000 });
const error = await cache.get("k").catch((e) => e);
console.log(JSON.stringify({ name: error.name, connection: error instanceof CacheConnectionError, message: error.message }));`,
      { env: { DENO_DIR: denoDir }, flags: ["--cached-only", "--no-lock"] },
    );
    assert.equal(out.code, 0, out.stderr);
    const result = JSON.parse(out.stdout);
    assert.equal(result.name, "CacheError");
    assert.equal(result.connection, false);
    assert.match(
      result.message,
      /^Cannot get key "k": cannot load the redis client npm:redis@6\.3\.1: /,
    );
  } finally {
    await Deno.remove(denoDir, { recursive: true });
  }
});

Deno.test({
  name:
    "RedisCache: a SIGSTOPped server makes calls reject within the timeout; after SIGCONT it works",
  ignore: serverMissing("redis") !== undefined && !IN_CI,
  fn: async () => {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = probe.addr as Deno.NetAddr;
    probe.close();
    const child = new Deno.Command("redis-server", {
      args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const timeout = 300;
    const cache = new RedisCache({
      url: `redis://127.0.0.1:${port}`,
      keyPrefix: prefix(),
      timeout,
    });
    try {
      for (let i = 0;; i++) {
        try {
          await cache.set("a", 1);
          break;
        } catch (error) {
          if (i === 100) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      Deno.kill(child.pid, "SIGSTOP");
      const results = await Promise.allSettled([
        cache.get("a"),
        cache.getMany(["a", "b"]),
        cache.setMany({ b: 2 }),
        cache.inc("n"),
      ]);
      for (const result of results) {
        assert.equal(result.status, "rejected");
        const error = (result as PromiseRejectedResult).reason;
        assert.ok(error instanceof CacheConnectionError, String(error));
        assert.match(error.message, new RegExp(`no answer within ${timeout} ms`));
      }
      Deno.kill(child.pid, "SIGCONT");
      // The server first answers what queued while it was stopped; on a loaded machine the
      // first call after SIGCONT may still run out of its 300 ms, so retry (bounded).
      let value: unknown;
      for (let i = 0;; i++) {
        try {
          value = await cache.get("a");
          break;
        } catch (error) {
          if (i === 20 || !(error instanceof CacheConnectionError)) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      assert.equal(value, 1, "the same instance works again");
    } finally {
      await cache.close();
      try {
        Deno.kill(child.pid, "SIGCONT");
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
    }
  },
});

Deno.test("RedisCache rejects a client that is not a node-redis client at construction", async () => {
  const fakes: unknown[] = [
    {},
    { sendCommand() {} }, // a look-alike missing the rest of a client
    new Map(),
    "redis://127.0.0.1:6379",
    42,
  ];
  for (const client of fakes) {
    assert.throws(
      () => new RedisCache({ client: client as never }),
      (error: Error) => {
        assert.ok(error instanceof TypeError, String(error));
        assert.match(
          error.message,
          /^Cannot create RedisCache: client must be a node-redis client \(from createClient, createCluster or createSentinel\), received /,
        );
        return true;
      },
    );
  }
  // the three kinds of node-redis clients are accepted (nothing connects yet)
  const clients = [
    createClient({ url: "redis://127.0.0.1:1" }),
    createCluster({ rootNodes: [{ url: "redis://127.0.0.1:1" }] }),
    createSentinel({ name: "mymaster", sentinelRootNodes: [{ host: "127.0.0.1", port: 1 }] }),
  ];
  for (const client of clients) await new RedisCache({ client }).close();
});

Deno.test("RedisCache checks its cluster and sentinel options", () => {
  const cases: [object, RegExp][] = [
    [{ cluster: {} }, /cluster must be createCluster options with rootNodes/],
    [{ cluster: { rootNodes: [] } }, /cluster must be createCluster options with rootNodes/],
    [
      { cluster: { rootNodes: [{ url: "http://x" }] } },
      /rootNodes \[\{ url: "redis:\/\/host:port" \}/,
    ],
    [{ sentinel: { sentinelRootNodes: [{ host: "h", port: 1 }] } }, /sentinel\.name must be/],
    [{ sentinel: { name: "m", sentinelRootNodes: [{ host: "h" }] } }, /sentinelRootNodes must be/],
    [
      { url: "redis://x", cluster: { rootNodes: [{ url: "redis://x" }] } },
      /give one of url, client, cluster or sentinel, received url and cluster/,
    ],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => new RedisCache(options as never), (error: Error) => {
      assert.ok(error instanceof TypeError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
  assert.throws(
    () =>
      new RedisCache(
        { cluster: { rootNodes: [{ url: "redis://:s3cret@h:1", x: 1 }, 5] } } as never,
      ),
    (error: Error) => !error.message.includes("s3cret"),
  );
});

Deno.test("parseCacheUrl reads redis+cluster:// and redis+sentinel:// URLs", async () => {
  const { parseCacheUrl } = await import("../url.ts");
  assert.deepEqual(parseCacheUrl("redis+cluster://10.0.0.1:7000,10.0.0.2?keyPrefix=app:"), {
    scheme: "redis",
    options: {
      cluster: { rootNodes: [{ url: "redis://10.0.0.1:7000" }, { url: "redis://10.0.0.2:6379" }] },
      keyPrefix: "app:",
    },
  });
  assert.deepEqual(parseCacheUrl("redis+cluster://:p%40ss@h1:1,h2:2"), {
    scheme: "redis",
    options: {
      cluster: {
        rootNodes: [{ url: "redis://h1:1" }, { url: "redis://h2:2" }],
        defaults: { password: "p@ss" },
      },
    },
  });
  assert.deepEqual(parseCacheUrl("redis+sentinel://s1:26380,s2/mymaster?timeout=500"), {
    scheme: "redis",
    options: {
      sentinel: {
        name: "mymaster",
        sentinelRootNodes: [{ host: "s1", port: 26380 }, { host: "s2", port: 26379 }],
      },
      timeout: 500,
    },
  });
  for (
    const [url, message] of [
      ["redis+sentinel://s1:26379", /needs the master's name as its path/],
      ["redis+cluster://h1:1/0", /takes no path/],
      ["redis+cluster://", /needs host:port/],
      [
        "redis+cluster://h1:99999",
        /expected host:port in redis\+cluster:\/\/, received "h1:99999"/,
      ],
      ["redis+cluster://h1?db=1", /db/],
      ["redis+cluster://:s3cret@h1:99999", /\*\*\*/],
    ] as const
  ) {
    assert.throws(() => parseCacheUrl(url), (error: Error) => {
      assert.ok(error instanceof TypeError, String(error));
      assert.match(error.message, message);
      assert.ok(!error.message.includes("s3cret"), error.message);
      return true;
    });
  }
});

Deno.test("RedisCache: a given client's calls share one deadline timer, not one each", async () => {
  // a server that accepts and never answers
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn);
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  const client = createClient({
    url: `redis://127.0.0.1:${port}`,
    RESP: 2,
    disableClientInfo: true,
    socket: { reconnectStrategy: false },
  });
  client.on("error", () => {});
  await client.connect(); // RESP2 without client info: no handshake to wait for
  const timers: number[] = [];
  const original = globalThis.setTimeout;
  try {
    const cache = new RedisCache({ client, timeout: 300 });
    // the first call sets the cache up (its own deadline covers that)
    await assert.rejects(cache.get("first"), CacheConnectionError);
    globalThis.setTimeout = ((fn: () => void, ms?: number) => {
      timers.push(ms ?? 0);
      return original(fn, ms);
    }) as typeof setTimeout;
    const calls = Array.from({ length: 200 }, (_, i) => cache.get(`k${i}`));
    const settled = await Promise.allSettled(calls);
    globalThis.setTimeout = original;
    for (const result of settled) {
      assert.equal(result.status, "rejected");
      const error = (result as PromiseRejectedResult).reason as Error;
      assert.ok(error instanceof CacheConnectionError, String(error));
      assert.match(error.message, /is unavailable \(no answer within 300 ms\)/);
    }
    assert.ok(timers.length <= 3, `${timers.length} timers for 200 calls`);
    await cache.close();
  } finally {
    globalThis.setTimeout = original;
    client.destroy();
    listener.close();
    for (const conn of conns) conn.close();
    await accepting.catch(() => {});
  }
});
