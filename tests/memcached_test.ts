import assert from "node:assert/strict";
import { runConformance } from "../testing.ts";
import { IN_CI, pauseProcess, type RunningServer, serverMissing, serverTest } from "./servers.ts";
import {
  CacheBatchError,
  CacheConnectionError,
  CacheError,
  defaultSerializer,
  jsonSerializer,
  MemcachedCache,
  type MemjsClient,
  SerializationError,
  type Serializer,
} from "../mod.ts";
import { expiration, mapKey, MAX_EXPIRATION } from "../backends/memcached/_keys.ts";

const big = { maxItemSize: "2m" };
const prefix = () => `t${crypto.randomUUID().slice(0, 8)}:`;

/** `call()` once it succeeds: a server marked down is probed again after `downRetryDelay`. */
async function eventually<T>(call: () => Promise<T>, what: string): Promise<T> {
  for (let tries = 0;; tries++) {
    try {
      return await call();
    } catch (error) {
      if (tries === 100) throw new Error(`${what}: still failing`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Sends one text-protocol command to `server` and returns the reply up to `until`. */
async function raw(
  server: RunningServer,
  command: string | Uint8Array,
  until = "\r\n",
): Promise<string> {
  const conn = await Deno.connect({ hostname: server.host, port: server.port });
  try {
    await conn.write(typeof command === "string" ? new TextEncoder().encode(command) : command);
    let reply = "";
    const buf = new Uint8Array(4096);
    while (!reply.endsWith(until)) {
      const n = await conn.read(buf);
      if (n === null) break;
      reply += new TextDecoder().decode(buf.subarray(0, n));
    }
    return reply;
  } finally {
    conn.close();
  }
}

serverTest(
  "MemcachedCache conforms with a key prefix (clear() bumps the generation)",
  [{ kind: "memcached", options: big }],
  async (t, [server]) => {
    await runConformance(t, {
      name: "MemcachedCache",
      make: ({ defaultTtl, serializer }) =>
        new MemcachedCache({
          servers: server!.address,
          keyPrefix: prefix(),
          defaultTtl,
          serializer,
        }),
      quirks: {
        ttlGranularity: "seconds",
        clock: "server",
        serializes: true,
        unsupported: { keys: "memcached has no command that lists keys" },
      },
    });
  },
);

serverTest(
  "MemcachedCache conforms on two servers without a prefix (clear() is flush_all)",
  [{ kind: "memcached", options: big }, { kind: "memcached", options: big }],
  async (t, servers) => {
    await runConformance(t, {
      name: "MemcachedCache",
      make: async ({ defaultTtl, serializer }) => {
        const cache = new MemcachedCache({
          servers: servers.map((s) => s.address),
          defaultTtl,
          serializer,
        });
        await cache.clear();
        return cache;
      },
      quirks: {
        ttlGranularity: "seconds",
        clock: "server",
        serializes: true,
        clearScope: "store",
        unsupported: { keys: "memcached has no command that lists keys" },
      },
    });
  },
);

/** 200 keys memcached cannot take as they are, and some it can, from a fixed seed. */
function hostileKeys(): string[] {
  let seed = 42;
  const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
  const keys = new Set<string>([
    "",
    " ",
    "~",
    "~generation",
    "a b",
    "\r\n",
    "\u0000",
    "\u007f",
    "\ud800",
    "\ud801",
    "\udc00\ud800",
    "é",
    "e\u0301",
    "x".repeat(250),
    "x".repeat(251),
    "y".repeat(10_000),
    mapKey("", "a b"), // what "a b" hashes to, as a key of its own
    mapKey("", "a b").slice(1),
  ]);
  const alphabet = [" ", "\t", "\n", "\u0000", "~", ":", "a", "Z", "9", "é", "🔑", "\ud83d", "\\"];
  while (keys.size < 200) {
    const length = next() % 40 === 0 ? 240 + (next() % 30) : next() % 12;
    let key = "";
    for (let i = 0; i < length; i++) key += alphabet[next() % alphabet.length];
    keys.add(key);
  }
  return [...keys];
}

serverTest(
  "MemcachedCache round-trips 200 hostile keys without collisions",
  ["memcached", "memcached"],
  async (t, servers) => {
    for (const keyPrefix of ["", prefix()]) {
      await t.step(`keyPrefix ${JSON.stringify(keyPrefix)}`, async () => {
        await using cache = new MemcachedCache({
          servers: servers.map((s) => s.address),
          keyPrefix,
        });
        await cache.clear();
        const keys = hostileKeys();
        assert.equal(keys.length, 200);
        for (const [i, key] of keys.entries()) assert.equal(await cache.set(key, i), true);
        const long = Array.from(
          { length: 300 },
          (_, i) => `${i}:`.padEnd(250 - keyPrefix.length, "k"),
        );
        assert.deepEqual(await cache.setMany(long.map((k) => [k, k.length] as const)), long);
        assert.deepEqual(
          await cache.getMany(long),
          long.map((k) => k.length),
          "300 keys of 250 bytes in one getMany()",
        );
        for (const [i, key] of keys.entries()) {
          assert.equal(await cache.get(key), i, `key #${i} ${JSON.stringify(key.slice(0, 20))}`);
        }
        assert.deepEqual(await cache.getMany(keys), keys.map((_, i) => i));
        const odd = keys.filter((_, i) => i % 2 === 1);
        assert.deepEqual(await cache.deleteMany(odd), odd);
        assert.deepEqual(
          await cache.getMany(keys),
          keys.map((_, i) => (i % 2 === 1 ? undefined : i)),
        );
      });
    }
  },
);

serverTest(
  "MemcachedCache sends a ttl over 30 days as an absolute time, so it survives",
  ["memcached"],
  async (_t, [server]) => {
    const sixtyDays = 60 * 24 * 3_600_000;
    const now = Date.now();
    assert.equal(expiration(sixtyDays, now), Math.ceil(now / 1000) + 60 * 24 * 3600);
    assert.equal(expiration(30 * 24 * 3_600_000), 30 * 24 * 3600, "30 days is still relative");
    assert.equal(expiration(1), 1, "1 ms rounds up to 1 s");
    assert.equal(expiration(1001), 2);
    assert.equal(expiration(0), 0);
    await using cache = new MemcachedCache({ servers: server!.address });
    assert.equal(await cache.set("long", "kept", sixtyDays), true);
    assert.equal(await cache.get("long"), "kept");
    const left = (await raw(server!, "mg long t\r\n")).match(/^HD t(\d+)/)?.[1];
    assert.ok(
      Number(left) > 60 * 24 * 3600 - 10 && Number(left) <= 60 * 24 * 3600 + 2,
      `remaining ttl ${left}`,
    );
    assert.equal(await cache.set("mid", "m", 100_500), true);
    assert.match(await raw(server!, "mg mid t\r\n"), /^HD t(100|101)\r\n/, "relative seconds");
  },
);

serverTest(
  "MemcachedCache.set() of a value over the item size limit returns false and the cache still works",
  ["memcached"],
  async (_t, [server]) => {
    await using cache = new MemcachedCache({ servers: server!.address });
    await cache.set("other", { ok: true });
    await cache.set("huge", "old");
    assert.equal(await cache.set("huge", "v".repeat(2_000_000)), false);
    assert.equal(await cache.add("huge2", new Uint8Array(2 << 20)), false);
    assert.equal(await cache.get("huge"), undefined, "memcached drops the old value too");
    assert.deepEqual(await cache.getMany(["other", "huge"]), [{ ok: true }, undefined]);
    assert.equal(await cache.set("huge", "small now"), true);
    assert.equal(await cache.get("huge"), "small now");
    assert.deepEqual(await cache.setMany({ a: 1, b: "v".repeat(2_000_000), c: 3 }), ["a", "c"]);
    assert.equal(cache.stats().sets, 5);
  },
);

serverTest(
  "MemcachedCache.inc()/dec() are exact below zero and at the safe-integer limits",
  ["memcached"],
  async (_t, [server]) => {
    await using cache = new MemcachedCache({ servers: server!.address });
    assert.equal(await cache.dec("n", 5), -5);
    assert.equal(await cache.dec("n", 1_000_000_000_000), -1_000_000_000_005);
    assert.equal(await cache.inc("n", 1_000_000_000_010), 5);
    assert.equal(await cache.get("n"), 5);
    await cache.set("neg", -7);
    assert.equal(await cache.dec("neg"), -8);
    assert.equal(await cache.inc("neg", 8), 0);
    assert.equal(await cache.dec("neg", 1), -1, "crossing zero keeps going");
    assert.deepEqual(await cache.getMany(["n", "neg"]), [5, -1]);
    await cache.set("low", Number.MIN_SAFE_INTEGER + 1);
    assert.equal(await cache.dec("low"), Number.MIN_SAFE_INTEGER);
    await assert.rejects(cache.dec("low"), RangeError);
    assert.equal(await cache.get("low"), Number.MIN_SAFE_INTEGER, "a failed dec() is undone");
    assert.equal(await cache.dec("fresh", Number.MAX_SAFE_INTEGER), -Number.MAX_SAFE_INTEGER);
    for (const text of ["12", "  42 is the answer", "-0", "+7", "\t9"]) {
      await cache.set(text, text);
      await assert.rejects(
        cache.inc(text),
        (e: Error) => e instanceof TypeError && e.message.includes(`found ${JSON.stringify(text)}`),
        `a string ${JSON.stringify(text)} is not a counter`,
      );
      assert.equal(await cache.get(text), text);
    }
    await cache.set("unsafe", 2 ** 60);
    await assert.rejects(cache.inc("unsafe"), /not a safe integer, found 1152921504606847000/);
    assert.equal(await cache.get("unsafe"), 2 ** 60);
  },
);

serverTest(
  "MemcachedCache.inc() from 2 processes × 500 counts exactly 1000",
  ["memcached", "memcached"],
  async (_t, servers) => {
    const keyPrefix = prefix();
    const fixture = new URL("./fixtures/memcached_inc.ts", import.meta.url);
    const addresses = servers.map((s) => s.address).join(",");
    const runs = Array.from({ length: 2 }, () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", fixture.href, addresses, keyPrefix, "counter", "500"],
        stdout: "piped",
        stderr: "piped",
      }).output());
    for (const run of await Promise.all(runs)) {
      assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    }
    await using cache = new MemcachedCache({ servers: addresses.split(","), keyPrefix });
    assert.equal(await cache.get("counter"), 1000);
  },
);

serverTest(
  "MemcachedCache spreads keys over two servers and reads all of them back",
  ["memcached", "memcached"],
  async (_t, servers) => {
    await using cache = new MemcachedCache({ servers: servers.map((s) => s.address) });
    const keys = Array.from({ length: 100 }, (_, i) => `spread:${i}`);
    assert.equal((await cache.setMany(keys.map((k, i) => [k, { i }] as const))).length, 100);
    const all = keys.map((_, i) => ({ i }));
    assert.deepEqual(await cache.getMany(keys), all);
    assert.deepEqual(await Promise.all(keys.map((k) => cache.get(k))), all);
    const held = await Promise.all(servers.map(async (server) => {
      await using one = new MemcachedCache({ servers: server.address });
      return (await one.getMany(keys)).filter((v) => v !== undefined).length;
    }));
    assert.ok(held.every((n) => n > 10), `each server holds some keys: ${held}`);
    assert.equal(held[0]! + held[1]!, 100, "each key lives on exactly one server");
    assert.equal(await cache.clear(), true);
    assert.deepEqual(await cache.getMany(keys), keys.map(() => undefined));
  },
);

serverTest(
  "MemcachedCache rejects with CacheConnectionError within the timeout when a server is down",
  ["memcached"],
  async (_t, [server]) => {
    await using cache = new MemcachedCache({
      servers: server!.address,
      timeout: 1000,
      downRetryDelay: 100,
    });
    await cache.set("a", 1);
    assert.equal(await cache.getMany(["a"]).then((v) => v[0]), 1);
    await server!.stop();
    const calls: [string, () => Promise<unknown>][] = [
      ["get", () => cache.get("a")],
      ["set", () => cache.set("a", 2)],
      ["add", () => cache.add("b", 2)],
      ["has", () => cache.has("a")],
      ["delete", () => cache.delete("a")],
      ["inc", () => cache.inc("n")],
      ["getMany", () => cache.getMany(["a", "b"])],
      ["clear", () => cache.clear()],
    ];
    for (const [op, call] of calls) {
      const started = performance.now();
      await assert.rejects(
        call(),
        (e: Error) =>
          e instanceof CacheConnectionError && e.message.startsWith(`Cannot ${op}`) &&
          e.message.includes(server!.address),
        op,
      );
      assert.ok(performance.now() - started < 1000 + 2000, `${op} rejected within the timeout`);
    }
    await server!.restart();
    // Marked down after the first failure: the first call after downRetryDelay probes it.
    assert.equal(
      await eventually(() => cache.set("a", 3), "set"),
      true,
      "reconnects after the server is back",
    );
    assert.deepEqual(await cache.getMany(["a"]), [3]);
  },
);

Deno.test("MemcachedCache rejects within the timeout when a server accepts but never answers", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  const { port } = listener.addr as Deno.NetAddr;
  try {
    await using cache = new MemcachedCache({ servers: `127.0.0.1:${port}`, timeout: 300 });
    for (const call of [() => cache.get("a"), () => cache.getMany(["a", "b"])]) {
      const started = performance.now();
      await assert.rejects(
        call(),
        (e: Error) =>
          // Our deadline or memjs's own socket timeout (the same 300 ms), whichever fires first.
          e instanceof CacheConnectionError &&
          /did not answer within 300 ms|socket timed out/.test(e.message),
      );
      assert.ok(performance.now() - started < 300 + 2000);
    }
  } finally {
    listener.close();
    await accepting;
    for (const conn of held) conn.close();
  }
});

serverTest(
  "MemcachedCache.clear() with a prefix leaves other prefixes and instances consistent",
  ["memcached"],
  async (_t, [server]) => {
    const mine = prefix();
    await using a = new MemcachedCache({ servers: server!.address, keyPrefix: mine });
    // generationTtl: 0 reads the generation with every call: another instance's clear() is seen at once.
    await using b = new MemcachedCache({
      servers: server!.address,
      keyPrefix: mine,
      generationTtl: 0,
    });
    await using other = new MemcachedCache({ servers: server!.address, keyPrefix: prefix() });
    await using bare = new MemcachedCache({ servers: server!.address });
    await a.set("k", "a");
    await other.set("k", "other");
    await bare.set("k", "bare");
    assert.equal(await b.get("k"), "a", "two instances share a prefix");
    assert.equal(await a.clear(), true);
    assert.equal(await b.get("k"), undefined, "another instance sees the clear");
    assert.deepEqual(await b.getMany(["k"]), [undefined]);
    assert.equal(await other.get("k"), "other", "another prefix is untouched");
    assert.equal(await bare.get("k"), "bare", "unprefixed keys are untouched");
    await b.set("k", "b");
    assert.equal(await a.get("k"), "b");
  },
);

serverTest(
  "MemcachedCache uses a given memjs client and leaves it open on close()",
  ["memcached"],
  async (_t, [server]) => {
    const memjs = (await import("memjs")).default;
    const client = memjs.Client.create(server!.address, { logger: { log() {} } }) as MemjsClient & {
      get(key: string): Promise<{ value: Uint8Array | null }>;
    };
    try {
      const cache = new MemcachedCache({ client });
      await cache.set("n", 10);
      assert.equal(await cache.inc("n"), 11);
      await cache.set("s", "héllo ✓");
      await cache.set("lone", "\ud800x");
      assert.equal(await cache.get("lone"), "\ud800x", "a lone surrogate survives (serialized)");
      await cache.close();
      const read = async (key: string) => new TextDecoder().decode((await client.get(key)).value!);
      assert.equal(await read("n"), "1000000000000000011", "integers: decimal ASCII + 10^18");
      assert.equal(await read("s"), "héllo ✓", "strings are plain UTF-8 for any client");
    } finally {
      client.close();
    }
  },
);

serverTest(
  "MemcachedCache reports foreign items instead of guessing",
  ["memcached"],
  async (_t, [server]) => {
    await using cache = new MemcachedCache({ servers: server!.address });
    assert.equal(await raw(server!, "set foreign 7 0 5\r\nhello\r\n"), "STORED\r\n");
    await assert.rejects(
      cache.get("foreign"),
      (e: Error) =>
        e instanceof SerializationError &&
        /"foreign": the item was not written by MemcachedCache \(flags 7/.test(e.message),
    );
  },
);

Deno.test("MemcachedCache checks its options", () => {
  const bad: [unknown, RegExp][] = [
    [{ servers: [] }, /servers must be/],
    [{ servers: "a b:1" }, /each server must be "host:port"/],
    [{ servers: "h:99999" }, /each server must be/],
    [{ servers: "h:1", client: {} }, /not both/],
    [{ client: {} }, /client must be a memjs Client/],
    [{ keyPrefix: "a b" }, /keyPrefix must be printable ASCII/],
    [{ keyPrefix: "p".repeat(181) }, /at most 180/],
    [{ timeout: 0 }, /timeout must be a finite number/],
    [{ defaultTtl: -1 }, /defaultTtl/],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => new MemcachedCache(options as never), message);
  }
  const cache = new MemcachedCache({ servers: ["h", "h2:1"], keyPrefix: "app:" });
  assert.equal(cache.keyPrefix, "app:");
  assert.equal(cache.timeout, 5000);
});

serverTest(
  "MemcachedCache uses the serializer it is given",
  ["memcached"],
  async (_t, [server]) => {
    await using cache = new MemcachedCache({
      servers: server!.address,
      serializer: jsonSerializer,
    });
    await cache.set("o", { a: [1, "x"], b: null });
    assert.deepEqual(await cache.get("o"), { a: [1, "x"], b: null });
    assert.deepEqual(await cache.getMany(["o", "o"]), [{ a: [1, "x"], b: null }, {
      a: [1, "x"],
      b: null,
    }]);
    assert.match(await raw(server!, "get o\r\n", "END\r\n"), /\{"a":\[1,"x"\],"b":null\}/);
  },
);

serverTest(
  "MemcachedCache.close() settles requests still in flight",
  ["memcached"],
  async (_t, [server]) => {
    const cache = new MemcachedCache({ servers: server!.address });
    await cache.set("a", 1);
    const pending = [cache.get("a"), cache.set("b", 2)];
    const many = cache.getMany(["a", "b"]);
    await cache.close();
    for (const request of pending) {
      await assert.rejects(
        request,
        (e: Error) =>
          e instanceof CacheConnectionError && /did not answer before close\(\)/.test(e.message),
      );
    }
    await assert.rejects(
      many,
      (e: Error) => e instanceof CacheError && /the cache is closed/.test(e.message),
    );
  },
);

serverTest(
  "MemcachedCache.getMany() reads values larger than its read buffer",
  [{ kind: "memcached", options: { maxItemSize: "4m" } }],
  async (_t, [server]) => {
    await using cache = new MemcachedCache({ servers: server!.address });
    const big = "b".repeat(3_000_000);
    const bytes = new Uint8Array(200_000).map((_, i) => i % 251);
    assert.equal(await cache.set("big", big), true);
    assert.equal(await cache.set("bytes", bytes), true);
    await cache.set("small", 1);
    for (let i = 0; i < 2; i++) {
      const [a, b, c, d] = await cache.getMany<unknown>(["big", "missing", "bytes", "small"]);
      assert.equal(a, big);
      assert.equal(b, undefined);
      assert.deepEqual(c, bytes);
      assert.equal(d, 1);
    }
  },
);

// --- Trust I / Trust II (issues 11 and 12) ---

/** A serializer that hides its input: the default serializer's bytes, each XORed with 0x5a. */
const scrambling: Serializer = {
  serialize: (value) => defaultSerializer.serialize(value).map((b) => b ^ 0x5a),
  deserialize: (bytes) => defaultSerializer.deserialize(bytes.map((b) => b ^ 0x5a)),
};

/** Reads `key`'s item with a text-protocol `get`: its flags and bytes (as decoded text). */
async function rawItem(
  server: RunningServer,
  key: string,
): Promise<{ flags: number; text: string } | undefined> {
  const reply = await raw(server, `get ${key}\r\n`, "END\r\n");
  const match = /^VALUE \S+ (\d+) (\d+)\r\n/.exec(reply);
  if (!match) return undefined;
  const start = match[0].length;
  return { flags: Number(match[1]), text: reply.slice(start, start + Number(match[2])) };
}

serverTest(
  "MemcachedCache with a custom serializer stores every value through it, strings and integers included",
  ["memcached"],
  async (_t, [server]) => {
    await using cache = new MemcachedCache({ servers: server!.address, serializer: scrambling });
    const card = "my card number 4111 1111 1111 1111";
    assert.equal(await cache.set("card", card), true);
    assert.equal(await cache.set("pin", 4111111111111111), true);
    assert.equal(await cache.add("added", "4111 added"), true);
    assert.deepEqual(await cache.setMany({ many: "4111 many", n: 4111 }), ["many", "n"]);
    for (const key of ["card", "pin", "added", "many", "n"]) {
      const item = await rawItem(server!, key);
      assert.ok(item, key);
      assert.ok(!item.text.includes("4111"), `${key} is stored scrambled: ${item.text}`);
      assert.equal(item.flags & 0xffff, 0xca1b, `${key} carries the serializer flags`);
    }
    assert.equal(await cache.get("card"), card);
    assert.equal(await cache.get("pin"), 4111111111111111);
    assert.deepEqual(await cache.getMany(["added", "many", "n"]), [
      "4111 added",
      "4111 many",
      4111,
    ]);
  },
);

serverTest(
  "MemcachedCache with a custom serializer keeps counters atomic: inc() turns a set() integer into a counter, keeping its ttl",
  ["memcached"],
  async (_t, [server]) => {
    await using cache = new MemcachedCache({ servers: server!.address, serializer: scrambling });
    assert.equal(await cache.set("n", 5, 100_000), true);
    assert.equal(await cache.inc("n", 2), 7);
    assert.equal(await cache.get("n"), 7);
    const item = await rawItem(server!, "n");
    assert.deepEqual(item, { flags: 0, text: "1000000000000000007" }, "a counter is decimal");
    assert.match(await raw(server!, "mg n t\r\n"), /^HD t(99|100)\r\n/, "the ttl is kept");
    assert.equal(await cache.dec("fresh", 3), -3, "inc() creates a counter as before");
    // Concurrent first incs of a set() integer: the CAS conversion loses none.
    assert.equal(await cache.set("race", 10), true);
    await Promise.all(Array.from({ length: 20 }, () => cache.inc("race")));
    assert.equal(await cache.get("race"), 30);
    await cache.set("text", "12");
    await assert.rejects(cache.inc("text"), /stored value is not a safe integer, found "12"/);
    assert.equal(await cache.get("text"), "12");
    await cache.set("float", 1.5);
    await assert.rejects(cache.inc("float"), TypeError);
  },
);

serverTest(
  "MemcachedCache.inc() on a fresh key never fails under contention and counts exactly",
  [{ kind: "memcached" }],
  async (_t, [server]) => {
    // Separate instances are separate connections, so memcached's threads race for real:
    // a miss followed by another client's add used to fail with status 0x5 (Not stored).
    const caches = Array.from(
      { length: 6 },
      () => new MemcachedCache({ servers: server!.address }),
    );
    try {
      for (let round = 0; round < 1500; round++) {
        const results = await Promise.all(caches.map((c) => c.inc(`fresh:${round}`)));
        assert.deepEqual(results.sort((a, b) => a - b), [1, 2, 3, 4, 5, 6], `round ${round}`);
      }
    } finally {
      for (const cache of caches) await cache.close();
    }
  },
);

serverTest(
  "MemcachedCache reads strings exactly (a leading BOM is kept) and refuses foreign items",
  ["memcached"],
  async (_t, [server]) => {
    await using cache = new MemcachedCache({ servers: server!.address });
    for (const text of ["\uFEFFabc", "\uFEFF", "\uFEFF\uFEFFx", "a\uFEFF"]) {
      await cache.set("bom", text);
      assert.equal(await cache.get("bom"), text);
      assert.deepEqual(await cache.getMany(["bom"]), [text]);
    }
    const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
    const foreign: [string, string][] = [
      ["set plain 0 0 2\r\n42\r\n", "plain"], // another client's "42"
      ["set huge 0 0 20\r\n18446744073709551615\r\n", "huge"],
      ["set utf 51740 0 2\r\n\xff\xfe\r\n", "utf"], // our string flags, bytes not UTF-8 (latin1)
    ];
    for (const [command, key] of foreign) {
      assert.equal(await raw(server!, latin1(command)), "STORED\r\n");
      for (const read of [() => cache.get(key), () => cache.getMany([key])]) {
        await assert.rejects(
          read(),
          (e: Error) => e instanceof SerializationError && e.message.includes(`"${key}"`),
          key,
        );
      }
    }
    await assert.rejects(
      cache.inc("plain"),
      (e: Error) =>
        e instanceof SerializationError && /not written by MemcachedCache/.test(e.message),
    );
    assert.match(await raw(server!, "get plain\r\n", "END\r\n"), /\r\n42\r\n/, "incr undone");
  },
);

serverTest(
  "MemcachedCache works when imported by path from a project outside this repo",
  ["memcached"],
  async (_t, [server]) => {
    const dir = await Deno.makeTempDir();
    try {
      const mod = new URL("../mod.ts", import.meta.url).href;
      await Deno.writeTextFile(`${dir}/deno.json`, "{}\n");
      await Deno.writeTextFile(
        `${dir}/main.ts`,
        `import { MemcachedCache } from ${JSON.stringify(mod)};
await using cache = new MemcachedCache({ servers: ${JSON.stringify(server!.address)} });
await cache.set("outside", { ok: 1 });
console.log(JSON.stringify([await cache.get("outside"), await cache.inc("n")]));
`,
      );
      const run = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", "--no-lock", "main.ts"],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(run.stderr);
      assert.equal(run.code, 0, err);
      assert.equal(new TextDecoder().decode(run.stdout).trim(), '[{"ok":1},1]');
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("MemcachedCache without --allow-env is a CacheError that says which permission", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mod = new URL("../mod.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { MemcachedCache, CacheError } from ${JSON.stringify(mod)};
const cache = new MemcachedCache({ servers: "127.0.0.1:1", timeout: 500 });
try {
  await cache.get("a");
} catch (e) {
  console.log(e instanceof CacheError, e.constructor.name, e.message);
}
await cache.close();
`,
    );
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-read",
        "--no-prompt",
        "--config", // this repo's config: the test is about --allow-env only
        new URL("../deno.json", import.meta.url).pathname,
        `${dir}/main.ts`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(run.stdout);
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    assert.match(
      out,
      /^true CacheError Cannot use MemcachedCache: npm:memjs@1\.3\.2 reads the environment variables .*--allow-env=MEMCACHIER_USERNAME/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("MemcachedCache rejects unknown options and never echoes a server's credentials", () => {
  assert.throws(
    () => new MemcachedCache({ servers: "h:1", host: "h" } as never),
    (e: Error) =>
      e instanceof TypeError &&
      e.message ===
        'Cannot create MemcachedCache: unknown option "host" (accepted: client, defaultTtl, distribution, downRetryDelay, generationTtl, getManyFailOpen, keyPrefix, serializer, servers, timeout)',
  );
  for (const spec of ["bob:s3cret@10.0.0.1:11211", ":s3cret@h", "u:s3cret@x@h:1"]) {
    assert.throws(
      () => new MemcachedCache({ servers: ["h:1", spec] }),
      (e: Error) =>
        e instanceof TypeError &&
        /each server must be "host:port".*not supported/.test(e.message) &&
        !`${e.message}\n${e.stack}`.includes("s3cret"),
      spec,
    );
  }
});

/** A TCP listener that accepts and never writes; counts the connections it accepted. */
function silentServer(): {
  port: number;
  accepted: () => number;
  [Symbol.asyncDispose](): Promise<void>;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    accepted: () => held.length,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const conn of held) conn.close();
    },
  };
}

Deno.test("MemcachedCache.getMany() calls queued behind a silent server fail at their own deadline without reconnecting", async () => {
  await using silent = silentServer();
  await using cache = new MemcachedCache({ servers: `127.0.0.1:${silent.port}`, timeout: 1000 });
  const calls = Array.from({ length: 20 }, (_, i) => cache.getMany([`a${i}`, "b"]));
  const results = await Promise.allSettled(calls);
  for (const result of results) {
    assert.equal(result.status, "rejected");
    const reason = (result as PromiseRejectedResult).reason as Error;
    assert.ok(reason instanceof CacheConnectionError, String(reason));
    assert.match(reason.message, /^Cannot getMany: memcached at .* did not answer within 1000 ms/);
  }
  // Each call's deadline ran from the call: the 19 queued ones expired with the first one, so
  // only that one ever connected (before, each waited its turn and opened a new connection).
  assert.equal(silent.accepted(), 1);
});

Deno.test("MemcachedCache.close() rejects queued getMany()/clear() calls as closed and opens nothing afterwards", async () => {
  await using silent = silentServer();
  const cache = new MemcachedCache({ servers: `127.0.0.1:${silent.port}`, timeout: 2000 });
  const first = cache.getMany(["a"]);
  await new Promise((resolve) => setTimeout(resolve, 100)); // the first is in flight
  const queued = Promise.allSettled([cache.getMany(["b"]), cache.clear(), cache.getMany(["c"])]);
  const settled = Promise.allSettled([first]);
  await new Promise((resolve) => setTimeout(resolve, 100)); // they wait behind the first
  await cache.close();
  const [firstResult] = await settled;
  assert.equal(firstResult.status, "rejected");
  for (const result of await queued) {
    assert.equal(result.status, "rejected");
    const reason = (result as PromiseRejectedResult).reason;
    assert.ok(reason instanceof CacheError && /the cache is closed/.test(reason.message), reason);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(silent.accepted(), 1, "no connection after close()");
});

Deno.test("MemcachedCache.close() with a silent server lets the process exit", async () => {
  await using silent = silentServer();
  const dir = await Deno.makeTempDir();
  const mod = new URL("../mod.ts", import.meta.url).href;
  await Deno.writeTextFile(
    `${dir}/main.ts`,
    `import { MemcachedCache } from ${JSON.stringify(mod)};
const cache = new MemcachedCache({ servers: "127.0.0.1:${silent.port}", timeout: 60_000 });
const pending = cache.get("a").catch((e) => console.log(e.constructor.name));
await new Promise((resolve) => setTimeout(resolve, 200));
await cache.close();
await pending;
console.log("closed");
`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    // This repo's config, so the test is about close() only (not about importing memjs).
    args: [
      "run",
      "--allow-all",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      `${dir}/main.ts`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // The test bounds its own wait (memjs's 60 s timeout would otherwise end it).
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<"hung">((resolve) => timer = setTimeout(() => resolve("hung"), 15_000));
  const output = child.output();
  const exited = await Promise.race([output, bound]);
  clearTimeout(timer);
  try {
    if (exited === "hung") {
      child.kill("SIGKILL");
      await output;
      assert.fail("the process was still running 15 s after close()");
    }
    assert.equal(exited.code, 0, new TextDecoder().decode(exited.stderr));
    assert.equal(new TextDecoder().decode(exited.stdout), "CacheConnectionError\nclosed\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A memcached this file starts itself (for flags servers.ts has no option for, and SIGSTOP). */
interface OwnMemcached {
  address: string;
  child: Deno.ChildProcess;
  stop(): Promise<void>;
}

async function spawnMemcached(extra: string[]): Promise<OwnMemcached> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const child = new Deno.Command("memcached", {
    args: [
      ..."-l 127.0.0.1 -U 0".split(" "),
      "-p",
      String(port),
      ...extra,
      ...(Deno.uid() === 0 ? ["-u", "root"] : []),
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGCONT");
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.status;
  };
  for (let i = 0;; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (error) {
      if (i === 200) {
        await stop();
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  return { address: `127.0.0.1:${port}`, child, stop };
}

/** Starts memcached with `-M` (refuse, never evict, when memory is full) and 2 MB, filled. */
async function fullMemcached(): Promise<OwnMemcached> {
  const server = await spawnMemcached(["-m", "2", "-M"]);
  // Fill the smallest slab class (where a generation key and a 1-byte value live) until refused.
  await using filler = new MemcachedCache({ servers: server.address });
  for (let batch = 0;; batch++) {
    const keys = Array.from({ length: 1000 }, (_, i) => [`f${batch}:${i}`, "x"] as const);
    if ((await filler.setMany(keys, 0)).length < keys.length) break;
  }
  return server;
}

Deno.test({
  name:
    "MemcachedCache against a SIGSTOPped memcached rejects every call within its timeout, then recovers",
  ignore: !IN_CI && serverMissing("memcached") !== undefined,
  fn: async () => {
    const server = await spawnMemcached([]);
    try {
      await using cache = new MemcachedCache({
        servers: server.address,
        keyPrefix: "stop:",
        timeout: 500,
        downRetryDelay: 100,
      });
      await cache.set("a", 1);
      assert.deepEqual(await cache.getMany(["a"]), [1]);
      await pauseProcess(server.child);
      const calls: [string, () => Promise<unknown>][] = [
        ["get", () => cache.get("a")],
        ["set", () => cache.set("a", 2)],
        ["inc", () => cache.inc("n")],
        ["getMany", () => cache.getMany(["a", "b"])],
        ["setMany", () => cache.setMany({ a: 1, b: 2 })],
        ["clear", () => cache.clear()],
      ];
      const results = await Promise.allSettled(calls.map(([, call]) => call()));
      results.forEach((result, i) => {
        const op = calls[i]![0];
        assert.equal(result.status, "rejected", op);
        const reason = (result as PromiseRejectedResult).reason as Error;
        assert.ok(reason instanceof CacheConnectionError, `${op}: ${reason}`);
        // Our deadline or memjs's own socket timeout (the same 500 ms), whichever fires first.
        assert.match(
          reason.message,
          new RegExp(`^Cannot ${op}.*(did not answer within 500 ms|socket timed out)`),
        );
      });
      server.child.kill("SIGCONT");
      assert.equal(
        await eventually(() => cache.set("a", 3), "set"),
        true,
        "works again once the server runs (after a probe)",
      );
      assert.deepEqual(await cache.getMany(["a"]), [3]);
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name:
    "MemcachedCache on a full memcached (-M): set() is false and a key prefix fails typed, never loops",
  ignore: !IN_CI && serverMissing("memcached") !== undefined,
  fn: async () => {
    const server = await fullMemcached();
    try {
      await using cache = new MemcachedCache({ servers: server.address, timeout: 2000 });
      assert.equal(await cache.set("small", "y"), false, "out of memory (0x82) is not stored");
      assert.equal(await cache.add("small2", "y"), false);
      assert.deepEqual(await cache.setMany({ s1: "y", s2: "z" }), []);
      await using prefixed = new MemcachedCache({
        servers: server.address,
        keyPrefix: "p:",
        timeout: 2000,
      });
      for (const call of [() => prefixed.get("a"), () => prefixed.inc("a")]) {
        await assert.rejects(
          call(),
          (e: Error) =>
            e instanceof CacheError && !(e instanceof CacheConnectionError) &&
            /creating the generation of the key prefix\): memcached answered status 0x82/.test(
              e.message,
            ),
        );
      }
    } finally {
      await server.stop();
    }
  },
});

serverTest(
  "MemcachedCache with one of two servers down says what clear(), setMany() and deleteMany() did",
  ["memcached", "memcached"],
  async (_t, [up, down]) => {
    await using cache = new MemcachedCache({
      servers: [up!.address, down!.address],
      timeout: 1000,
    });
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    assert.deepEqual(await cache.setMany(keys.map((k) => [k, k] as const)), keys);
    await using upOnly = new MemcachedCache({ servers: up!.address });
    const held = (await upOnly.getMany(keys)).map((v, i) => v === undefined ? undefined : keys[i]!)
      .filter((k): k is string => k !== undefined);
    assert.ok(held.length > 0 && held.length < 40, `keys on the live server: ${held.length}`);
    await down!.stop();

    const deleting = await cache.deleteMany(keys).catch((e) => e);
    assert.ok(deleting instanceof CacheBatchError, String(deleting));
    assert.deepEqual(deleting.deleted, held);
    assert.match(
      deleting.message,
      new RegExp(
        `^Cannot deleteMany: ${
          40 - held.length
        } of 40 keys failed \\(first: Cannot deleteMany key .*${
          down!.address
        }.*\\); deleted ${held.length}: `,
      ),
    );
    assert.ok(deleting.cause instanceof CacheConnectionError);

    const storing = await cache.setMany(keys.map((k) => [k, 1] as const)).catch((e) => e);
    assert.ok(storing instanceof CacheBatchError, String(storing));
    assert.deepEqual(storing.stored, held);
    assert.deepEqual(await upOnly.getMany(held), held.map(() => 1));

    const clearing = await cache.clear().catch((e) => e);
    assert.ok(clearing instanceof CacheBatchError, String(clearing));
    assert.deepEqual(clearing.flushed, [up!.address]);
    assert.match(
      clearing.message,
      new RegExp(
        `^Cannot clear: 1 of 2 servers failed \\(first: Cannot clear: memcached at ${
          down!.address
        }.*\\); flushed 1: "${up!.address}"$`,
      ),
    );
    assert.deepEqual(
      await upOnly.getMany(held),
      held.map(() => undefined),
      "the live one was flushed",
    );
  },
);

Deno.test("MemcachedCache's first call rejects at its deadline while npm:memjs is still downloading", async () => {
  // An empty DENO_DIR and an npm registry that accepts connections and never answers: the
  // import of npm:memjs cannot finish, and the call must not wait for it.
  await using registry = silentServer();
  const dir = await Deno.makeTempDir();
  try {
    const mod = new URL("../mod.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { MemcachedCache } from ${JSON.stringify(mod)};
const cache = new MemcachedCache({ servers: "127.0.0.1:1", timeout: 500 });
for (const call of [() => cache.get("a"), () => cache.getMany(["a"])]) {
  try {
    await call();
  } catch (e) {
    console.log(e.constructor.name, e.message);
  }
}
Deno.exit(0); // the download itself cannot be cancelled
`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--no-lock", `${dir}/main.ts`],
      cwd: dir,
      env: {
        DENO_DIR: `${dir}/deno_dir`,
        NPM_CONFIG_REGISTRY: `http://127.0.0.1:${registry.port}/`,
      },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = child.output();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<"hung">((resolve) =>
      timer = setTimeout(() => resolve("hung"), 20_000)
    );
    const exited = await Promise.race([output, bound]);
    clearTimeout(timer);
    if (exited === "hung") {
      child.kill("SIGKILL");
      await output;
      assert.fail("the first call was still waiting for npm:memjs 20 s later");
    }
    assert.equal(
      new TextDecoder().decode(exited.stdout),
      'CacheError Cannot get key "a": the client library npm:memjs@1.3.2 did not load within 500 ms\n' +
        "CacheError Cannot getMany: the client library npm:memjs@1.3.2 did not load within 500 ms\n",
      new TextDecoder().decode(exited.stderr),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// --- Review of Trust I/II (findings 3, 5, 9, 10, 12, 13, 17) ---

serverTest(
  "MemcachedCache.inc()/dec() never change an item they did not verify as a counter (another client's numbers stay)",
  ["memcached"],
  async (_t, [server]) => {
    await using cache = new MemcachedCache({ servers: server!.address });
    const foreign = [
      ["max", "18446744073709551615", "inc", 1], // incr would wrap to 0
      ["big", "18446744073709551610", "inc", 100],
      ["small", "3", "dec", 5], // decr would stop at 0
      ["zero", "0", "dec", 1],
      ["ten", "10", "inc", 1], // below the counter range: incr would make it 11
    ] as const;
    for (const [key, text, op, delta] of foreign) {
      assert.equal(
        await raw(server!, `set ${key} 0 0 ${text.length}\r\n${text}\r\n`),
        "STORED\r\n",
      );
      await assert.rejects(
        op === "inc" ? cache.inc(key, delta) : cache.dec(key, delta),
        (e: Error) =>
          e instanceof SerializationError && e.message.includes(`"${key}"`) &&
          e.message.includes("not written by MemcachedCache"),
      );
      assert.deepEqual(await rawItem(server!, key), { flags: 0, text }, `${key} untouched`);
    }
    await cache.set("mine", 41);
    assert.equal(await cache.inc("mine"), 42, "its own counters still count");
    assert.deepEqual(await rawItem(server!, "mine"), { flags: 0, text: "1000000000000000042" });
  },
);

serverTest(
  "MemcachedCache.inc() from 4 instances × 8 concurrent calls counts exactly (read, then CAS)",
  ["memcached"],
  async (_t, [server]) => {
    const caches = Array.from(
      { length: 4 },
      () => new MemcachedCache({ servers: server!.address }),
    );
    try {
      await caches[0]!.set("n", 100);
      const results = await Promise.all(
        caches.flatMap((c) => Array.from({ length: 8 }, () => c.inc("n"))),
      );
      assert.deepEqual(
        results.sort((a, b) => a - b),
        Array.from({ length: 32 }, (_, i) => 101 + i),
      );
      assert.equal(await caches[1]!.get("n"), 132);
    } finally {
      for (const cache of caches) await cache.close();
    }
  },
);

serverTest(
  "MemcachedCache.inc() on -0 (default serializer) gives the delta and stores it, as MemoryCache does",
  ["memcached"],
  async (_t, [server]) => {
    await using cache = new MemcachedCache({ servers: server!.address });
    await cache.set("z", -0, 100_000);
    assert.equal(await cache.inc("z", 5), 5);
    assert.equal(await cache.get("z"), 5);
    assert.deepEqual(await rawItem(server!, "z"), { flags: 0, text: "1000000000000000005" });
    assert.match(await raw(server!, "mg z t\r\n"), /^HD t(99|100)\r\n/, "the ttl is kept");
    await cache.set("y", -0);
    assert.equal(await cache.dec("y", 2), -2);
  },
);

serverTest(
  "MemcachedCache with a huge ttl keeps the entry (the 32-bit expiration is capped, never wrapped)",
  ["memcached"],
  async (_t, [server]) => {
    assert.equal(expiration(1e15, 0), MAX_EXPIRATION);
    assert.equal(expiration(Number.MAX_SAFE_INTEGER), MAX_EXPIRATION);
    await using cache = new MemcachedCache({ servers: server!.address });
    for (const ttl of [1e12, 1e13, 1e15, Number.MAX_SAFE_INTEGER]) {
      assert.equal(await cache.set(`k${ttl}`, "v", ttl), true);
      assert.equal(await cache.get(`k${ttl}`), "v", `ttl ${ttl}`);
    }
    assert.equal(await cache.add("added", 1, 1e15), true);
    assert.deepEqual(await cache.setMany({ m1: 1, m2: "two" }, 1e15), ["m1", "m2"]);
    assert.deepEqual(await cache.getMany(["added", "m1", "m2"]), [1, 1, "two"]);
    await using forever = new MemcachedCache({ servers: server!.address, defaultTtl: 1e15 });
    assert.equal(await forever.inc("counter", 3), 3, "inc() creates with the capped ttl");
    assert.equal(await forever.get("counter"), 3);
    // A custom serializer's integer with a huge ttl becomes a counter through the text
    // protocol, whose T flag is signed 32-bit: capped there too, not wrapped.
    await using custom = new MemcachedCache({ servers: server!.address, serializer: scrambling });
    await custom.set("c", 1, 1e15);
    assert.equal(await custom.inc("c"), 2);
    assert.equal(await custom.get("c"), 2);
  },
);

Deno.test("MemcachedCache never echoes the password of a server spec it refuses", () => {
  const specs = {
    "user:pa ss word@127.0.0.1:1": ["pa ss word", "pa", "word"],
    "user:pw;x,y==@127.0.0.1:1": ["pw;x,y=="],
    "user:tok/en/xyz@127.0.0.1:1": ["tok/en", "xyz"],
    "memcached://user:p%22w'q88@127.0.0.1:1": ["p%22w", "q88", 'p"w', 'p\\"w'],
    "u:\"q`b't@127.0.0.1": ['"q', "q`b", "b'"],
    "u:p@ss@h:1": ["p@ss", "ss@"],
  };
  for (const [server, secrets] of Object.entries(specs)) {
    for (const servers of [server, [server], [{ address: server, weight: 2 }]]) {
      const error = assert.throws(
        () => new MemcachedCache({ servers: servers as string }),
        (e: Error) => {
          assert.ok(e instanceof TypeError);
          assert.match(e.message, /each server must be "host:port", received "\*\*\*@/);
          const text = `${e.message}\n${e.stack}\n${String(e.cause)}`;
          for (const secret of secrets) assert.ok(!text.includes(secret), `${secret} in ${text}`);
          return true;
        },
      );
      void error;
    }
  }
});

serverTest(
  "MemcachedCache with a reused serializer buffer stores what serialize returned at the time",
  ["memcached"],
  async (_t, [server]) => {
    const buffer = new Uint8Array(1);
    const reusing: Serializer = {
      serialize: (value) => (buffer[0] = value as number, buffer),
      deserialize: (bytes) => bytes[0],
    };
    for (const keyPrefix of ["", prefix()]) {
      await using cache = new MemcachedCache({
        servers: server!.address,
        serializer: reusing,
        keyPrefix,
      });
      assert.deepEqual(await cache.setMany([["a", 1], ["b", 2], ["c", 3]]), ["a", "b", "c"]);
      assert.deepEqual(await cache.getMany(["a", "b", "c"]), [1, 2, 3]);
      const values = Array.from({ length: 50 }, (_, i) => i + 10);
      await Promise.all(values.map((v) => cache.set(`s${v}`, v)));
      assert.deepEqual(await cache.getMany(values.map((v) => `s${v}`)), values);
    }
  },
);

serverTest(
  "MemcachedCache: a serializer that returns no Uint8Array or throws a non-Error is a SerializationError naming the key",
  ["memcached"],
  async (_t, [server]) => {
    const bad: Record<string, Serializer> = {
      string: { serialize: (v) => JSON.stringify(v) as never, deserialize: () => 1 },
      arrayBuffer: { serialize: () => new ArrayBuffer(3) as never, deserialize: () => 1 },
      throwsText: {
        serialize: () => {
          throw "nope";
        },
        deserialize: () => {
          throw 42;
        },
      },
    };
    for (const [name, serializer] of Object.entries(bad)) {
      await using cache = new MemcachedCache({ servers: server!.address, serializer });
      for (
        const [op, call] of [
          ["set", () => cache.set("k1", { a: 1 })],
          ["add", () => cache.add("k1", { a: 1 })],
          ["setMany", () => cache.setMany({ k1: { a: 1 } })],
        ] as const
      ) {
        await assert.rejects(
          call(),
          (e: Error) =>
            e instanceof SerializationError && e.message.startsWith(`Cannot ${op} key "k1": `) &&
            (name === "throwsText"
              ? e.message.endsWith('the serializer threw "nope", not an Error')
              : /the serializer returned .*, not a Uint8Array/.test(e.message)),
          `${name} ${op}`,
        );
      }
      assert.equal(await cache.has("k1"), false, `${name}: nothing stored`);
    }
    await using reader = new MemcachedCache({
      servers: server!.address,
      serializer: bad.throwsText!,
    });
    await raw(server!, `set r ${0xca1b} 0 1\r\nx\r\n`);
    await assert.rejects(
      reader.get("r"),
      (e: Error) =>
        e instanceof SerializationError &&
        e.message === 'Cannot read key "r": the serializer threw 42, not an Error',
    );
  },
);

Deno.test("MemcachedCache with a keyPrefix: a get cut off by close() names its key", async () => {
  await using silent = silentServer();
  const cache = new MemcachedCache({
    servers: `127.0.0.1:${silent.port}`,
    keyPrefix: "p",
    timeout: 5000,
    downRetryDelay: 0,
  });
  const pending = cache.get("the key").then(() => undefined, (e: Error) => e);
  await new Promise((resolve) => setTimeout(resolve, 200)); // in flight on the silent server
  await cache.close();
  const error = await pending;
  assert.ok(error instanceof CacheError, String(error));
  assert.match(error.message, /^Cannot get key "the key": /);
});

Deno.test("mapKey hashes a key it cannot send to the same server key as before the toolkit (data stays readable)", () => {
  // Computed with the earlier mapKey: "~" + base64url(SHA-256(Buffer.from(key, "utf16le"))).
  const vectors: [string, string][] = [
    ["café", "app:g1:~jJ8-7Y0LTHW93lO_IthHy1obExjp1c4BhhQsVgLKm6o"],
    ["\ud800", "app:g1:~IFAi40KLfIJ2zyR7NuTlEttWUeXLNHLCU9nuiTqKx1A"],
    ["\udfff\ud800x", "app:g1:~4L7JKonjS0wtB003JkAknB9IIN-B073HB6_KTM61z_0"],
    ["a b", "app:g1:~h4fMnf0CFrqHZE2QKepVI-VfEDmrXap6hhhmU2qKI_s"],
    ["~x", "app:g1:~mxJfC9Aw4_Anvej5NLUW2wXzXxcHUa1_cd29SGLWKTo"],
    ["k".repeat(300), "app:g1:~Mn0SkgjwbQEHl1e_DJdLl4YBuQeyQrCAVQma_8gk9wU"],
    ["😀", "app:g1:~gclihLWW7TFVo_DxHaDdE0lNyRYYMjo7_0yXASKQFcw"],
    ["", "app:g1:~47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"],
  ];
  for (const [key, expected] of vectors) assert.equal(mapKey("app:g1:", key), expected, key);
  assert.equal(mapKey("app:g1:", "plain"), "app:g1:plain");
});
