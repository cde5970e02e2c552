import assert from "node:assert/strict";
import { runConformance } from "../testing.ts";
import { type Cache, CacheConnectionError, CacheError, DenoKvCache } from "../mod.ts";
import { encodeHeader, keyPart } from "../backends/deno_kv/_layout.ts";

/** Runs `fn` with a fresh KV file in a temp directory, removed afterwards. */
async function withTempKv(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cachelib_kv_" });
  try {
    await fn(`${dir}/kv.sqlite3`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every KV key under `prefix`, as JSON-ish strings for comparison. */
async function keysUnder(kv: Deno.Kv, prefix: Deno.KvKey): Promise<Deno.KvKey[]> {
  return (await Array.fromAsync(kv.list({ prefix }))).map((entry) => entry.key);
}

/** A chunked header as `encodeHeader` writes it, with whatever count and size a test claims. */
const chunkedHeader = (count: number, size: number, expires = 0) =>
  encodeHeader(expires, { count, size, id: crypto.randomUUID() });

/** Broken headers: chunks missing, 2^32−1 chunks claimed, and a 4 GiB value with no chunks. */
const BROKEN_HEADERS: [string, () => Uint8Array][] = [
  ["a header whose 2 chunks are missing", () => chunkedHeader(2, 100_000)],
  ["a header claiming 2^32−1 chunks", () => chunkedHeader(0xffff_ffff, 100_000)],
  ["a header claiming a 4 GiB value", () => chunkedHeader(65_536, 0xffff_ffff)],
];

Deno.test("DenoKvCache conforms on a temp-file KV", async (t) => {
  await withTempKv(async (path) => {
    await using kv = await Deno.openKv(path);
    const prefixes = new WeakMap<Cache, Deno.KvKey>();
    let planted = 0;
    await runConformance(t, {
      name: "DenoKvCache",
      make: ({ defaultTtl, now, serializer }) => {
        const prefix = ["test", crypto.randomUUID()];
        const cache = new DenoKvCache({ path, prefix, defaultTtl, now, serializer });
        prefixes.set(cache, prefix);
        return cache;
      },
      corrupt: async (cache, key) => {
        const [, header] = BROKEN_HEADERS[planted++ % BROKEN_HEADERS.length]!;
        await kv.set([...prefixes.get(cache)!, keyPart(key)], header());
      },
      quirks: { serializes: true },
    });
  });
});

Deno.test("DenoKvCache stores values over 64 KiB in chunks and swaps them atomically", async (t) => {
  await withTempKv(async (path) => {
    await using kv = await Deno.openKv(path);
    const prefix = ["big"];
    await using cache = new DenoKvCache({ kv, prefix });

    await t.step("a 200 KB value round-trips through 4 chunks", async () => {
      const value = { text: "x".repeat(200_000), n: 1 };
      assert.equal(await cache.set("big", value), true);
      assert.deepStrictEqual(await cache.get("big"), value);
      assert.equal((await keysUnder(kv, prefix)).length, 1 + 4, "a header and 4 chunks");
      assert.deepStrictEqual(await cache.getMany(["big", "missing", "big"]), [
        value,
        undefined,
        value,
      ]);
    });

    await t.step("a 3 MB value (more than one commit) round-trips", async () => {
      const value = new Uint8Array(3_000_000).map((_, i) => i % 251);
      assert.equal(await cache.set("huge", value), true);
      assert.deepStrictEqual(await cache.get("huge"), value);
    });

    await t.step("overwriting or deleting a chunked value leaves no chunks behind", async () => {
      await cache.set("big", "small now");
      await cache.set("huge", new Uint8Array(100_000));
      assert.equal(await cache.get("big"), "small now");
      assert.equal(await cache.delete("huge"), true);
      assert.deepStrictEqual(await keysUnder(kv, prefix), [["big", "big"]]);
    });

    await t.step("readers never see a mix of an old and a new value's chunks", async () => {
      const a = "a".repeat(300_000);
      const b = "b".repeat(300_000);
      await cache.set("swap", a);
      await using kv2 = await Deno.openKv(path);
      await using reader = new DenoKvCache({ kv: kv2, prefix });
      let writing = true;
      const writer = (async () => {
        for (let i = 0; i < 30; i++) await cache.set("swap", i % 2 ? a : b);
        writing = false;
      })();
      let reads = 0;
      while (writing) {
        const got = await reader.get<string>("swap");
        assert.ok(got === a || got === b, `read ${reads}: a whole old or new value`);
        reads++;
      }
      await writer;
      assert.ok(reads > 0);
      assert.equal((await keysUnder(kv, [...prefix, "swap"])).length, 5, "only the last chunk set");
    });

    await t.step("setMany() batches inline values and replaces chunked ones cleanly", async () => {
      await cache.set("c1", "c".repeat(100_000));
      const big = "d".repeat(100_000);
      assert.deepStrictEqual(
        await cache.setMany([["c1", "small now"], ["c2", big], ["s", 1], ["s", 2]]),
        ["c1", "c2", "s"],
      );
      assert.deepStrictEqual(await cache.getMany(["c1", "c2", "s"]), ["small now", big, 2]);
      assert.deepStrictEqual(await keysUnder(kv, [...prefix, "c1"]), [], "old chunks deleted");
      assert.equal((await keysUnder(kv, [...prefix, "c2"])).length, 2);
      const many = Array.from({ length: 250 }, (_, i) => [`m${i}`, i] as [string, number]);
      assert.equal((await cache.setMany(many)).length, 250);
      assert.deepStrictEqual(await cache.getMany(many.map(([key]) => key)), many.map(([, v]) => v));
    });
  });
});

Deno.test("DenoKvCache round-trips long and malformed keys without collisions", async () => {
  await withTempKv(async (path) => {
    await using kv = await Deno.openKv(path);
    await using cache = new DenoKvCache({ kv, prefix: ["keys"] });
    const long = "k".repeat(100_000);
    const keys = [long + "a", long + "b", "a\uD800", "a\uFFFD", "\uDC00", "x".repeat(256)];
    for (const [i, key] of keys.entries()) await cache.set(key, i);
    assert.deepStrictEqual(await cache.getMany(keys), keys.map((_, i) => i));
    assert.equal(await cache.inc(long + "a", 10), 10);
    assert.equal(await cache.add("\uDC00", "no"), false);
  });
});

Deno.test("DenoKvCache reads an entry stored for another key, or foreign data, as a miss", async () => {
  await withTempKv(async (path) => {
    await using kv = await Deno.openKv(path);
    const prefix = ["verify"];
    await using cache = new DenoKvCache({ kv, prefix });
    const [one, two] = ["1".repeat(300), "2".repeat(300)];
    await cache.set(one, "for one");
    await cache.set(two, "for two");
    const [first, second] = await Array.fromAsync(kv.list<Uint8Array>({ prefix }));
    // Swap the two entries, as if each key's hash pointed at the other's entry.
    await kv.set(first!.key, second!.value);
    await kv.set(second!.key, first!.value);
    assert.deepStrictEqual(await cache.getMany([one, two]), [undefined, undefined]);
    assert.equal(await cache.get(two), undefined);
    assert.equal(await cache.has(two), false);
    assert.equal(await cache.delete(one), false);
    assert.equal(await cache.add(two, "again"), true);
    assert.equal(await cache.get(two), "again");

    await kv.set([...prefix, "foreign"], { not: "ours" });
    assert.equal(await cache.get("foreign"), undefined);
    assert.equal(await cache.has("foreign"), false);
    assert.equal(await cache.delete("foreign"), false);
    assert.equal(await cache.inc("foreign"), 1);
  });
});

Deno.test("DenoKvCache.clear() removes 10 000 entries and nothing outside its prefix", async () => {
  await withTempKv(async (path) => {
    await using kv = await Deno.openKv(path);
    await using cache = new DenoKvCache({ kv, prefix: ["many"] });
    await using other = new DenoKvCache({ kv, prefix: ["other"] });
    const entries = Array.from({ length: 10_000 }, (_, i) => [`key${i}`, i] as [string, number]);
    for (let i = 0; i < entries.length; i += 1000) {
      assert.equal((await cache.setMany(entries.slice(i, i + 1000))).length, 1000);
    }
    await other.set("kept", "yes");
    assert.equal((await keysUnder(kv, ["many"])).length, 10_000);
    assert.equal(await cache.clear(), true);
    assert.deepStrictEqual(await keysUnder(kv, ["many"]), []);
    assert.equal(await cache.get("key9999"), undefined);
    assert.equal(await other.get("kept"), "yes");
  });
});

Deno.test("DenoKvCache add() and inc() are atomic across separate KV connections", async (t) => {
  await withTempKv(async (path) => {
    const kvs = await Promise.all(Array.from({ length: 10 }, () => Deno.openKv(path)));
    const caches = kvs.map((kv) => new DenoKvCache({ kv, prefix: ["race"] }));
    try {
      await t.step("50 concurrent add() calls: exactly one stores", async () => {
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => caches[i % 10]!.add("once", i)),
        );
        assert.equal(results.filter((stored) => stored).length, 1);
        assert.equal(await caches[0]!.get("once"), results.indexOf(true));
      });
      await t.step("200 concurrent inc()/dec() calls count exactly", async () => {
        await Promise.all(
          Array.from(
            { length: 200 },
            (_, i) => i % 4 === 3 ? caches[i % 10]!.dec("n", 2) : caches[i % 10]!.inc("n", 3),
          ),
        );
        assert.equal(await caches[5]!.get("n"), 150 * 3 - 50 * 2);
      });
    } finally {
      for (const cache of caches) await cache.close();
      for (const kv of kvs) kv.close();
    }
  });
});

Deno.test("DenoKvCache keeps a user-supplied kv open and opens a path lazily", async () => {
  await withTempKv(async (path) => {
    const kv = await Deno.openKv(path);
    const cache = new DenoKvCache({ kv, prefix: ["owned"] });
    await cache.set("a", 1);
    await cache.close();
    await kv.set(["still", "open"], true);
    assert.equal((await kv.get(["still", "open"])).value, true);
    kv.close();

    const lazy = new DenoKvCache({ path: `${path}.missing-dir/kv.sqlite3` });
    await assert.rejects(
      lazy.get("a"),
      (e: Error) =>
        e instanceof CacheConnectionError && e.message.includes('Cannot get key "a"') &&
        e.message.includes(".missing-dir"),
    );
    await lazy.close();

    await using reopened = new DenoKvCache({ path, prefix: ["owned"] });
    assert.equal(await reopened.get("a"), 1, "the data lives in the file");
  });
});

Deno.test("DenoKvCache keeps exact expiry with a clock far from real time", async () => {
  await withTempKv(async (path) => {
    let now = Date.now() + 10 * 365 * 24 * 3_600_000;
    await using cache = new DenoKvCache({ path, now: () => now, defaultTtl: 1000 });
    assert.equal(await cache.set("a", "x"), true);
    assert.equal(await cache.inc("n"), 1);
    now += 999;
    assert.equal(await cache.inc("n"), 2, "inc() keeps the expiry, with a positive expireIn");
    assert.equal(await cache.get("a"), "x");
    now += 1;
    assert.deepStrictEqual(await cache.getMany(["a", "n"]), [undefined, undefined]);
    now = 0;
    assert.equal(await cache.set("b", "y", 5), true, "a clock in the past works too");
    assert.equal(await cache.get("b"), "y");
  });
});

Deno.test("DenoKvCache rejects bad options with a TypeError or RangeError", () => {
  assert.throws(() => new DenoKvCache({ prefix: [] }), {
    name: "TypeError",
    message: /prefix must be a non-empty KV key/,
  });
  assert.throws(() => new DenoKvCache({ prefix: ["x".repeat(2000)] }), RangeError);
  assert.throws(
    () => new DenoKvCache({ prefix: ["app", {} as string] }),
    { name: "TypeError", message: /prefix parts must be strings.*received an object/ },
  );
  assert.throws(() => new DenoKvCache({ prefix: [null as unknown as string] }), TypeError);
  assert.throws(() => new DenoKvCache({ path: "a", kv: {} as Deno.Kv }), /either kv or path/);
  assert.throws(() => new DenoKvCache({ defaultTtl: -1 }), RangeError);
});

Deno.test("DenoKvCache without --unstable-kv rejects with a CacheError that says so", async () => {
  const script = `
    import { DenoKvCache } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
    const cache = new DenoKvCache({ path: "unused.sqlite3" });
    try { await cache.get("a"); } catch (e) { console.log(e.name + ": " + e.message); }
    await cache.close();
  `;
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(success);
  assert.equal(
    new TextDecoder().decode(stdout).trim(),
    'CacheError: Cannot get key "a": cannot open Deno KV at "unused.sqlite3": Deno.openKv is unavailable, run with --unstable-kv',
  );
});

Deno.test("DenoKvCache inc() and add() are atomic across processes sharing a KV file", async () => {
  await withTempKv(async (path) => {
    const script = `
      import { DenoKvCache } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
      await using cache = new DenoKvCache({ path: Deno.args[0], prefix: ["procs"] });
      const adds = await Promise.all(Array.from({ length: 20 }, (_, i) => cache.add("once", i)));
      await Promise.all(Array.from({ length: 50 }, () => cache.inc("n")));
      console.log(adds.filter((stored) => stored).length);
    `;
    const run = () =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", "--no-check", "--unstable-kv", script, path],
        stdout: "piped",
        stderr: "inherit",
      }).output();
    const outputs = await Promise.all([run(), run(), run()]);
    assert.ok(outputs.every((output) => output.success));
    const wins = outputs.map((output) => Number(new TextDecoder().decode(output.stdout)));
    assert.equal(wins.reduce((a, b) => a + b), 1, `add() wins per process: ${wins}`);
    await using cache = new DenoKvCache({ path, prefix: ["procs"] });
    assert.equal(await cache.get("n"), 150);
  });
});

Deno.test("DenoKvCache turns a KV failure into a CacheError naming the operation and key", async () => {
  await withTempKv(async (path) => {
    const kv = await Deno.openKv(path);
    await using cache = new DenoKvCache({ kv });
    await cache.set("a", 1);
    kv.close(); // the caller closes its own handle under the cache
    const failed = (text: string) => (e: Error) =>
      e instanceof CacheError && e.message.startsWith(text) && e.cause instanceof Error;
    await assert.rejects(cache.get("a"), failed('Cannot get key "a": Deno KV failed: '));
    await assert.rejects(cache.set("a", 2), failed('Cannot set key "a": Deno KV failed: '));
    await assert.rejects(cache.getMany(["a"]), failed("Cannot getMany: Deno KV failed: "));
    await assert.rejects(cache.clear(), failed("Cannot clear: Deno KV failed: "));
  });
});

Deno.test("DenoKvCache queues one instance's concurrent writes of a key: 500 inc() all count", async () => {
  await withTempKv(async (path) => {
    await using cache = new DenoKvCache({ path, prefix: ["queue"] });
    const settled = await Promise.allSettled(Array.from({ length: 500 }, () => cache.inc("n")));
    const failed = settled.filter((result) => result.status === "rejected");
    assert.deepEqual(failed, [], "no inc() gave up");
    const values = settled.map((result) => (result as PromiseFulfilledResult<number>).value);
    assert.deepEqual(values.sort((a, b) => a - b), Array.from({ length: 500 }, (_, i) => i + 1));
    assert.equal(await cache.get("n"), 500);
    const mixed = await Promise.all([
      cache.add("k", "first"),
      cache.set("k", "second"),
      cache.add("k", "third"),
      cache.delete("k"),
      cache.add("k", "fourth"),
    ]);
    assert.deepEqual(mixed, [true, true, false, true, true], "writes of a key run in call order");
    assert.equal(await cache.get("k"), "fourth");
  });
});

Deno.test("DenoKvCache reads every broken header as a miss in every method", async (t) => {
  await withTempKv(async (path) => {
    await using kv = await Deno.openKv(path);
    const prefix = ["broken"];
    await using cache = new DenoKvCache({ kv, prefix });
    for (const [name, header] of BROKEN_HEADERS) {
      await t.step(name, async () => {
        const plant = (key: string) => kv.set([...prefix, key], header());
        await plant("k");
        assert.equal(await cache.get("k"), undefined);
        assert.deepStrictEqual(await cache.getMany(["k", "k"]), [undefined, undefined]);
        assert.equal(await cache.has("k"), false);
        assert.equal(await cache.delete("k"), false);
        assert.equal(await cache.add("k", "added"), true);
        assert.equal(await cache.get("k"), "added");
        await plant("k");
        assert.equal(await cache.inc("k", 2), 2);
        await plant("k");
        assert.equal(await cache.set("k", "big".repeat(40_000)), true);
        assert.equal(await cache.get("k"), "big".repeat(40_000));
        assert.equal(await cache.delete("k"), true);
        assert.deepStrictEqual(await keysUnder(kv, prefix), [], "nothing left behind");
      });
    }
  });
});

Deno.test("DenoKvCache never allocates by a corrupt header's claimed chunk count", async () => {
  // A small heap: code that loops or allocates per claimed chunk (2^32−1) dies here fast.
  await withTempKv(async (path) => {
    const script = `
      import { DenoKvCache } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
      import { encodeHeader } from ${
      JSON.stringify(new URL("../backends/deno_kv/_layout.ts", import.meta.url).href)
    };
      const kv = await Deno.openKv(Deno.args[0]);
      const cache = new DenoKvCache({ kv, prefix: ["p"] });
      const plant = () =>
        kv.set(["p", "k"], encodeHeader(0, { count: 0xffffffff, size: 100000, id: crypto.randomUUID() }));
      const out = [];
      await plant(); out.push(await cache.set("k", 1));
      await plant(); out.push(await cache.delete("k"));
      await plant(); out.push(await cache.inc("k"));
      await plant(); out.push(await cache.get("k"));
      console.log(JSON.stringify(out));
      await cache.close();
      kv.close();
    `;
    const { stdout, stderr, success } = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--no-check",
        "--unstable-kv",
        "--v8-flags=--max-old-space-size=64",
        script,
        path,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const errors = new TextDecoder().decode(stderr);
    assert.ok(success, `the process survived: ${errors.slice(0, 300)}`);
    assert.equal(new TextDecoder().decode(stdout).trim(), "[true,false,1,null]");
  });
});

Deno.test("DenoKvCache rejects unknown options, listing the accepted ones", () => {
  assert.throws(() => new DenoKvCache({ perfix: ["x"] } as never), {
    name: "TypeError",
    message:
      'Cannot create DenoKvCache: unknown option "perfix" (accepted: defaultTtl, kv, now, path, prefix, serializer, timeout)',
  });
});

Deno.test("DenoKvCache never echoes credentials of a KV URL", async () => {
  const secrets = ["s3cret", "tok3n", "acc3ss"];
  const cache = new DenoKvCache({
    path: "http://user:s3cret@127.0.0.1:1/kv?access_token=acc3ss&token=tok3n",
  });
  const error = await cache.get("a").then(() => undefined, (e: Error) => e);
  await cache.close();
  assert.ok(error instanceof CacheConnectionError, String(error));
  assert.match(
    error.message,
    /^Cannot get key "a": cannot open Deno KV at "http:\/\/\*\*\*@127\.0\.0\.1:1\/kv/,
  );
  const cause = error.cause as Error;
  for (const text of [error.message, error.stack ?? "", cause.message, cause.stack ?? ""]) {
    for (const secret of secrets) assert.ok(!text.includes(secret), `no ${secret} in ${text}`);
  }
});

Deno.test("DenoKvCache never echoes a password holding spaces or quotes from its path", async () => {
  const cases: [string, string][] = [
    ["http://u:pa ss word@127.0.0.1:1/", "pa ss word"],
    [`http://u:p"w'q88@127.0.0.1:1/`, `p"w'q88`],
    ["https://user:p%22w'q88@127.0.0.1:1/kv", `p"w'q88`],
  ];
  for (const [path, secret] of cases) {
    const cache = new DenoKvCache({ path });
    const error = await cache.get("a").then(() => undefined, (e: Error) => e);
    await cache.close();
    assert.ok(error instanceof CacheConnectionError, String(error));
    const cause = error.cause as Error;
    for (const text of [error.message, error.stack ?? "", cause.message, cause.stack ?? ""]) {
      for (const form of [secret, encodeURIComponent(secret), "p%22w"]) {
        assert.ok(!text.includes(form), `no ${form} in ${text}`);
      }
    }
  }
});

Deno.test("DenoKvCache keeps prefixes with a lone surrogate apart from U+FFFD, and keys too", async () => {
  await withTempKv(async (path) => {
    await using kv = await Deno.openKv(path);
    await using a = new DenoKvCache({ kv, prefix: ["tenant\uD800"] });
    await using b = new DenoKvCache({ kv, prefix: ["tenant\uFFFD"] });
    await using c = new DenoKvCache({ kv, prefix: [new Uint8Array([0xff, 0x01])] });
    await a.set("k", "A", 0);
    await c.set("k", "C", 0);
    assert.equal(await b.get("k"), undefined);
    await b.set("k", "B", 0);
    await b.clear();
    assert.equal(await a.get("k"), "A", "b.clear() leaves a's entries");
    assert.equal(await c.get("k"), "C");
    await a.clear();
    assert.equal(await c.get("k"), "C", "a.clear() leaves c's entries");
    // User keys with a lone surrogate never meet the U+FFFD key either.
    await a.set("x\uD800", 1, 0);
    assert.equal(await a.get("x\uFFFD"), undefined);
    await a.set("x\uFFFD", 2, 0);
    assert.deepEqual(await a.getMany(["x\uD800", "x\uFFFD", "x\uDBFF"]), [1, 2, undefined]);
    // A well-formed prefix keeps its exact KV key, so existing data stays readable.
    await using plain = new DenoKvCache({ kv, prefix: ["plain", 1] });
    await plain.set("k", "v", 0);
    assert.deepEqual(await keysUnder(kv, ["plain"]), [["plain", 1, "k"]]);
  });
});

Deno.test("DenoKvCache stores a huge ttl (Number.MAX_SAFE_INTEGER) and expires it at its exact time", async () => {
  await withTempKv(async (path) => {
    let now = 1_000_000;
    const huge = Number.MAX_SAFE_INTEGER;
    await using cache = new DenoKvCache({
      path,
      prefix: ["huge"],
      now: () => now,
      defaultTtl: huge,
    });
    assert.equal(await cache.set("a", 1, huge), true);
    assert.equal(await cache.add("b", 2, huge), true);
    assert.deepEqual(await cache.setMany({ c: 3, d: "x".repeat(100_000) }, huge), ["c", "d"]);
    assert.equal(await cache.inc("e", 5), 5);
    now += huge - 1;
    assert.deepEqual(await cache.getMany(["a", "b", "c", "d", "e"]), [
      1,
      2,
      3,
      "x".repeat(100_000),
      5,
    ]);
    now += 2;
    assert.deepEqual(await cache.getMany(["a", "b", "c", "d", "e"]), [
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });
});

Deno.test("DenoKvCache rejects within its timeout when a remote KV endpoint never answers", async () => {
  // A listener that accepts and never writes. The client runs in a child process: Deno KV
  // cannot cancel its connect (it gives up after ~30 s), and a remote URL needs an access token.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) conns.push(conn);
    } catch { /* closed */ }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  const code = `
    import { DenoKvCache } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
    const cache = new DenoKvCache({ path: "http://u:s3cret@127.0.0.1:${port}/", timeout: 300 });
    const out = [];
    for (const call of [() => cache.get("k"), () => cache.set("k", 1), () => cache.inc("n")]) {
      out.push(await call().then((v) => "resolved " + v, (e) => e.name + ": " + e.message + e.stack));
    }
    console.log(JSON.stringify(out));
    Deno.exit(0);`;
  try {
    const { stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--unstable-kv", code],
      env: { DENO_KV_ACCESS_TOKEN: "t0ken" },
      stdout: "piped",
      stderr: "null",
    }).output();
    const out: string[] = JSON.parse(new TextDecoder().decode(stdout));
    assert.equal(out.length, 3);
    for (const [i, [op, key]] of [["get", "k"], ["set", "k"], ["inc", "n"]].entries()) {
      assert.ok(
        out[i]!.startsWith(
          `CacheConnectionError: Cannot ${op} key "${key}": no answer from Deno KV at "http://***@127.0.0.1:${port}/" within 300 ms (timeout)`,
        ),
        out[i],
      );
      assert.ok(!out[i]!.includes("s3cret"), out[i]);
    }
  } finally {
    listener.close();
    for (const conn of conns) conn.close();
    await accepting;
  }
});
