import { runConformance } from "../testing.ts";
import assert from "node:assert/strict";
import { type EvictionCause, MemoryCache, MemoryStore, NullCache } from "../mod.ts";

Deno.test("NullCache conforms (stores nothing)", async (t) => {
  await runConformance(t, {
    name: "NullCache",
    make: ({ defaultTtl }) => new NullCache({ defaultTtl }),
    quirks: { stores: false },
  });
});

Deno.test("MemoryCache conforms", async (t) => {
  await runConformance(t, {
    name: "MemoryCache",
    make: ({ defaultTtl, now }) => new MemoryCache({ defaultTtl, now }),
  });
});

Deno.test("MemoryCache conforms with clone: false except for copies", async (t) => {
  await runConformance(t, {
    name: "MemoryCache(clone: false)",
    make: ({ defaultTtl, now }) => new MemoryCache({ defaultTtl, now, clone: false }),
    skip: [{
      reason: "clone: false stores references by design",
      cases: ["values.copy", "errors.badValues", "errors.uncloneable", "values.errorNames"],
    }],
  });
});

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

Deno.test("MemoryStore is usable synchronously", () => {
  const store = new MemoryStore({ maxEntries: 10 });
  assert.equal(store.set("a", { n: 1 }), true);
  assert.deepEqual(store.get("a"), { n: 1 });
  assert.equal(store.add("a", 2), false);
  assert.equal(store.has("a"), true);
  assert.equal(store.inc("n", 3), 3);
  assert.equal(store.size, 2);
  assert.equal(store.delete("a"), true);
  assert.equal(store.get("a"), undefined);
  store.clear();
  assert.equal(store.size, 0);
  assert.throws(() => store.get(1 as unknown as string), TypeError);
  assert.throws(() => store.set("k", 1, -5), RangeError);
});

Deno.test("MemoryStore evicts the least recently used entry at maxEntries", () => {
  const evicted: [string, unknown, EvictionCause][] = [];
  const store = new MemoryStore({
    maxEntries: 3,
    policy: "lru",
    onEvict: (key, value, cause) => evicted.push([key, value, cause]),
  });
  store.set("a", 1);
  store.set("b", 2);
  store.set("c", 3);
  store.get("a"); // b is now least recently used
  store.set("d", 4);
  assert.deepEqual(evicted, [["b", 2, "evicted"]]);
  assert.equal(store.size, 3);
  store.set("c", 30); // an overwrite counts as a use
  store.set("e", 5);
  assert.deepEqual(evicted.at(-1), ["a", 1, "evicted"]);
  assert.deepEqual([store.has("c"), store.has("d"), store.has("e")], [true, true, true]);
  assert.equal(store.stats().evictions, 2);
});

Deno.test("MemoryStore tells onEvict why each entry left", () => {
  const c = clock();
  const causes: string[] = [];
  const store = new MemoryStore({
    now: c.now,
    onEvict: (key, _value, cause) => causes.push(`${key}:${cause}`),
  });
  store.set("a", 1);
  store.set("a", 2);
  store.delete("a");
  store.set("b", 1, 10);
  c.advance(10);
  store.get("b");
  store.set("c", 1);
  store.clear();
  assert.deepEqual(causes, ["a:replaced", "a:deleted", "b:expired", "c:cleared"]);
});

Deno.test("MemoryStore reclaims expired entries without reads or timers", () => {
  const c = clock();
  const expired: string[] = [];
  const store = new MemoryStore({
    maxEntries: 0,
    now: c.now,
    onEvict: (key, _v, cause) => cause === "expired" && expired.push(key),
  });
  for (let i = 0; i < 100; i++) store.set(`old${i}`, i, 50);
  c.advance(50);
  for (let i = 0; i < 100; i++) store.set(`new${i}`, i, 0);
  assert.equal(expired.length, 100, "inserts swept every expired entry");
  assert.equal(store.size, 100);
  for (let i = 0; i < 10; i++) store.set(`p${i}`, i, 5);
  c.advance(5);
  assert.equal(store.prune(), 10);
  assert.equal(store.size, 100);
});

Deno.test("MemoryStore bounds total size with maxBytes and sizeOf", () => {
  const store = new MemoryStore({
    maxEntries: 0,
    maxBytes: 10,
    policy: "lru",
    sizeOf: (value) => String(value).length,
  });
  assert.equal(store.set("a", "xxxx"), true);
  assert.equal(store.set("b", "yyyy"), true);
  assert.equal(store.set("c", "zzzz"), true); // 12 bytes > 10: evicts a
  assert.deepEqual([store.has("a"), store.has("b"), store.has("c")], [false, true, true]);
  assert.equal(store.set("big", "x".repeat(11)), false, "a value larger than maxBytes is refused");
  assert.equal(store.has("b"), true, "a refused value evicts nothing");
  store.set("b", "y"); // shrinking an entry frees bytes
  assert.equal(store.set("d", "dddd"), true);
  assert.deepEqual([store.has("b"), store.has("c"), store.has("d")], [true, true, true]);
  assert.throws(() => new MemoryStore({ maxBytes: 10, sizeOf: () => -1 }).set("a", 1), RangeError);
});

Deno.test("MemoryStore's default clock sees time pass between turns", async () => {
  const store = new MemoryStore();
  store.set("a", 1, 5);
  assert.equal(store.get("a"), 1);
  await new Promise((resolve) => setTimeout(resolve, 15));
  assert.equal(store.get("a"), undefined);
});

Deno.test("MemoryStore copies plain data and structured values on the way in and out", () => {
  const store = new MemoryStore();
  const plain = { a: [1, { b: 2 }] };
  store.set("plain", plain);
  (plain.a[1] as { b: number }).b = 99;
  const out = store.get<typeof plain>("plain")!;
  assert.deepEqual(out, { a: [1, { b: 2 }] });
  (out.a[1] as { b: number }).b = 42;
  assert.deepEqual(store.get("plain"), { a: [1, { b: 2 }] });
  const shared = new Map([["k", new Date(5)]]);
  store.set("map", shared);
  shared.get("k")!.setTime(0);
  assert.equal(store.get<typeof shared>("map")!.get("k")!.getTime(), 5);
  const byRef = new MemoryStore({ clone: false });
  const obj = { n: 1 };
  byRef.set("o", obj);
  assert.equal(byRef.get("o"), obj, "clone: false hands out the stored reference");
});

Deno.test("MemoryStore rejects bad options with typed errors", () => {
  assert.throws(
    () => new MemoryStore({ maxEntries: -1 }),
    /maxEntries must be an integer >= 0, received -1/,
  );
  assert.throws(() => new MemoryStore({ maxEntries: 1.5 }), RangeError);
  assert.throws(() => new MemoryStore({ defaultTtl: -1 }), RangeError);
  assert.throws(() => new MemoryStore({ defaultTtl: "5" as unknown as number }), TypeError);
  assert.throws(
    () => new MemoryStore({ policy: "nope" as "lru" }),
    (e: Error) =>
      e instanceof TypeError && /unknown policy "nope"; expected one of "lru"/.test(e.message),
  );
  assert.throws(() => new MemoryStore({ now: 5 as unknown as () => number }), TypeError);
});

Deno.test("MemoryCache exposes its store and counts through it", async () => {
  await using cache = new MemoryCache({ maxEntries: 2, policy: "lru" });
  await cache.setMany({ a: 1, b: 2, c: 3 });
  assert.equal(cache.store.size, 2);
  assert.deepEqual(await cache.getMany(["a", "c"]), [undefined, 3]);
  assert.deepEqual(cache.stats(), { hits: 1, misses: 1, sets: 3, deletes: 0, evictions: 1 });
});

Deno.test("importing mod.ts loads neither npm:redis nor npm:memjs", async (t) => {
  // A fresh DENO_DIR and --cached-only: any npm package that importing mod.ts
  // needs would have to be loaded, and cannot be. The control proves the check
  // bites: a static import of the same client fails under the same conditions.
  const denoDir = await Deno.makeTempDir();
  const config = new URL("../deno.json", import.meta.url).pathname;
  const mod = new URL("../mod.ts", import.meta.url).href;
  const run = async (name: string, source: string) => {
    const file = `${denoDir}/${name}.ts`;
    await Deno.writeTextFile(file, source);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--cached-only", "--no-lock", "--config", config, "--allow-read", file],
      env: { DENO_DIR: denoDir, NO_COLOR: "1" },
    }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
  };
  try {
    await t.step("mod.ts runs with no npm package available", async () => {
      const out = await run(
        "main",
        `import * as lib from "${mod}";
        const cache = new lib.MemoryCache(); await cache.set("a", 1);
        console.log(JSON.stringify({ value: await cache.get("a"), exports: Object.keys(lib).length }));`,
      );
      assert.equal(out.code, 0, out.stderr);
      const result = JSON.parse(out.stdout);
      assert.equal(result.value, 1);
      assert.ok(result.exports > 10);
    });
    for (const client of ["redis", "memjs"]) {
      await t.step(`control: a static import of ${client} fails the same way`, async () => {
        const out = await run(`static_${client}`, `import "${client}";`);
        assert.notEqual(out.code, 0);
        assert.match(out.stderr, /not found in cache|--cached-only/);
      });
    }
  } finally {
    await Deno.remove(denoDir, { recursive: true });
  }
});

Deno.test("MemoryStore rejects an unknown option, naming it and the accepted ones", () => {
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => new MemoryStore({ maxEntry: 10 } as any),
    {
      name: "TypeError",
      message: 'Cannot create MemoryStore: unknown option "maxEntry" (accepted: clone, ' +
        "defaultTtl, maxBytes, maxEntries, now, onEvict, policy, sizeOf)",
    },
  );
  assert.equal(new MemoryStore({ maxEntries: 10, policy: "lru" }).maxEntries, 10);
});

// Issue 14: the expiry and copy-mode arrays are allocated on first use; entries stored before
// keep their meaning (never expire, stored as they are), across growth too.
Deno.test("MemoryStore without ttls until late: earlier entries never expire, later ones do", () => {
  let clock = 1_000;
  const store = new MemoryStore({ maxEntries: 0, defaultTtl: 0, now: () => clock });
  for (let i = 0; i < 100; i++) store.set(`plain${i}`, i); // grows past the first 64 slots
  assert.equal(store.prune(), 0);
  store.set("short", "s", 10);
  for (let i = 0; i < 100; i++) store.set(`timed${i}`, i, 20); // grows again, expiries kept
  clock += 15;
  assert.deepEqual(
    [store.get("short"), store.get("timed99"), store.get("plain0"), store.get("plain99")],
    [undefined, 99, 0, 99],
  );
  clock += 10;
  assert.equal(store.prune(), 100);
  assert.equal(store.size, 100);
  store.set("plain0", "again", 5); // a slot that never expired takes a ttl
  clock += 5;
  assert.equal(store.get("plain0"), undefined);
  assert.equal(store.get("plain1"), 1);
});

Deno.test("MemoryStore copies objects stored after only primitives, and not primitives after", () => {
  const store = new MemoryStore({ maxEntries: 10 });
  store.set("n", 1);
  const value = { list: [1, 2] };
  store.set("o", value);
  value.list.push(3);
  const out = store.get<{ list: number[] }>("o")!;
  out.list.push(4);
  assert.deepEqual(store.get("o"), { list: [1, 2] });
  store.set("o", 5); // the slot's copy mode goes back to "as is"
  assert.equal(store.get("o"), 5);
  assert.equal(store.inc("o"), 6);
});
