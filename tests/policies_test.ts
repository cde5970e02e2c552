import assert from "node:assert/strict";
import { runConformance } from "../testing.ts";
import { simulate } from "../bench/_simulate.ts";
import { _tuning } from "../policies/adaptive.ts";
import { _FrequencySketch } from "../policies/_sketch.ts";
import { adversarialTraces, type Trace, zipfTrace } from "../bench/_traces.ts";
import {
  AdaptiveTinyLfuPolicy,
  DEFAULT_POLICY,
  type EvictionCause,
  type EvictionPolicy,
  MemoryCache,
  MemoryStore,
  type MemoryStoreOptions,
  POLICIES,
  type PolicyFactory,
  type PolicyName,
  RandomPolicy,
  TinyLfuPolicy,
} from "../mod.ts";

const NAMES = Object.keys(POLICIES) as PolicyName[];

/** The registered factories, with a fixed seed where a policy takes one (for reproducible runs). */
const SEEDED: Record<string, PolicyFactory> = {
  ...POLICIES,
  tinylfu: (capacity, limit) => new TinyLfuPolicy(capacity, { limit, seed: 7 }),
  adaptive: (capacity, limit) => new AdaptiveTinyLfuPolicy(capacity, limit, { seed: 7 }),
};

for (const policy of NAMES) {
  Deno.test(`MemoryCache conforms with policy "${policy}"`, async (t) => {
    await runConformance(t, {
      name: `MemoryCache(${policy})`,
      make: ({ defaultTtl, now }) => new MemoryCache({ policy, defaultTtl, now }),
    });
  });
}

/** A store of `maxEntries` that records what it evicts, in order. */
function recording(options: MemoryStoreOptions) {
  const evicted: string[] = [];
  const store = new MemoryStore({
    defaultTtl: 0,
    ...options,
    onEvict: (key, _value, cause) => {
      if (cause === "evicted") evicted.push(key);
    },
  });
  const set = (...keys: string[]) => keys.forEach((key) => store.set(key, key));
  const get = (...keys: string[]) => keys.forEach((key) => store.get(key));
  return { store, evicted, set, get };
}

Deno.test("fifo evicts the oldest insert, even after a hit or an overwrite", () => {
  const { evicted, set, get } = recording({ maxEntries: 3, policy: "fifo" });
  set("a", "b", "c");
  get("a", "a");
  set("d");
  assert.deepEqual(evicted, ["a"]);
  set("b", "e");
  assert.deepEqual(evicted, ["a", "b"]);
});

Deno.test("lifo evicts the newest insert other than the one being written", () => {
  const { store, evicted, set } = recording({ maxEntries: 3, policy: "lifo" });
  set("a", "b", "c", "d");
  assert.deepEqual(evicted, ["c"]);
  set("e");
  assert.deepEqual(evicted, ["c", "d"]);
  assert.deepEqual(["a", "b", "e"].map((key) => store.has(key)), [true, true, true]);
});

Deno.test("mru evicts the most recently used entry other than the one being written", () => {
  const { evicted, set, get } = recording({ maxEntries: 3, policy: "mru" });
  set("a", "b", "c");
  get("a");
  set("d");
  assert.deepEqual(evicted, ["a"]);
  get("b");
  set("e");
  assert.deepEqual(evicted, ["a", "b"]);
});

Deno.test("lfu evicts the least used entry, ties broken by age", async (t) => {
  await t.step("the lowest count goes first", () => {
    const { evicted, set, get } = recording({ maxEntries: 3, policy: "lfu" });
    set("a", "b", "c");
    get("a", "a", "b", "c", "c", "c");
    set("d");
    assert.deepEqual(evicted, ["b"]);
  });
  await t.step("among equal counts the oldest goes first; the new entry stays", () => {
    const { store, evicted, set, get } = recording({ maxEntries: 3, policy: "lfu" });
    set("a", "b", "c", "d");
    assert.deepEqual(evicted, ["a"]);
    get("b");
    set("e");
    assert.deepEqual(evicted, ["a", "c"]);
    assert.deepEqual(["b", "d", "e"].map((key) => store.has(key)), [true, true, true]);
  });
});

Deno.test("random eviction is reproducible for a seed and varies with it", () => {
  const run = (seed?: number) => {
    const { evicted, set } = recording({
      maxEntries: 10,
      policy: (capacity) => new RandomPolicy(capacity, seed === undefined ? {} : { seed }),
    });
    for (let i = 0; i < 200; i++) set(`k${i}`);
    return evicted;
  };
  const seven = run(7);
  assert.equal(seven.length, 190);
  assert.deepEqual(run(7), seven);
  assert.notDeepEqual(run(8), seven);
  assert.deepEqual(run(), run());
  assert.ok(!seven.includes("k199"), "the entry being written is never the victim");
  assert.notDeepEqual(seven.slice(0, 20), Array.from({ length: 20 }, (_, i) => `k${i}`));
  assert.throws(
    () => new RandomPolicy(4, { seed: 1.5 }),
    (e: Error) => e instanceof TypeError && /seed must be an integer, received 1.5/.test(e.message),
  );
});

Deno.test("s3fifo and tinylfu keep a hot set through a scan of one-time keys; lru does not", () => {
  const hot = Array.from({ length: 50 }, (_, i) => `hot${i}`);
  const kept = (policy: MemoryStoreOptions["policy"]) => {
    const { store, set, get } = recording({ maxEntries: 100, policy });
    set(...hot);
    for (let round = 0; round < 3; round++) get(...hot);
    for (let i = 0; i < 1000; i++) set(`scan${i}`);
    return hot.filter((key) => store.has(key)).length;
  };
  assert.equal(kept("s3fifo"), 50);
  // tinylfu's default hash seed is random (which keys collide cannot be planned): fix one.
  assert.equal(kept((capacity, limit) => new TinyLfuPolicy(capacity, { limit, seed: 1 })), 50);
  assert.equal(kept("lru"), 0);
});

Deno.test(`the default policy is "${DEFAULT_POLICY}" and resists scans`, () => {
  assert.equal(DEFAULT_POLICY, "adaptive");
  const kept = (options: MemoryStoreOptions) => {
    const store = new MemoryStore({ maxEntries: 100, ...options });
    for (let i = 0; i < 50; i++) store.set(`hot${i}`, i);
    for (let i = 0; i < 50; i++) store.get(`hot${i}`);
    for (let i = 0; i < 1000; i++) store.set(`scan${i}`, i);
    return Array.from({ length: 50 }, (_, i) => store.has(`hot${i}`)).filter(Boolean).length;
  };
  assert.equal(kept({ policy: SEEDED.adaptive }), 50);
  // With the default random seed, a scan of 10 × the cache through a sketch sized for 100 keys
  // fills its doorkeeper, and a false positive now and then lets a scan key displace a hot one
  // read once: over 1 000 seeds, at least 48 of the 50 stayed.
  assert.ok(kept({}) >= 45);
});

Deno.test("tinylfu admits a newcomer only when it is used more often than its victim", () => {
  const { store, evicted, set, get } = recording({ maxEntries: 100, policy: "tinylfu" });
  for (let i = 0; i < 100; i++) set(`old${i}`);
  for (let i = 0; i < 100; i++) get(`old${i}`);
  // The window holds one entry; the one leaving it is the candidate.
  set("once1", "once2", "once3");
  assert.deepEqual(evicted, ["old99", "once1", "once2"], "ties and one-time keys lose");
  for (let i = 0; i < 5; i++) set("popular");
  get("popular", "popular", "popular", "popular", "popular");
  assert.deepEqual(evicted.slice(3), ["once3"]);
  set("newer");
  assert.deepEqual(evicted.slice(4), ["old0"], "a popular candidate displaces the victim");
  assert.equal(store.has("popular"), true);
});

for (const policy of NAMES) {
  Deno.test(`policy "${policy}" reports evictions to onEvict and stats()`, () => {
    const events: [string, unknown, EvictionCause][] = [];
    const store = new MemoryStore({
      maxEntries: 5,
      policy,
      onEvict: (key, value, cause) => events.push([key, value, cause]),
    });
    for (let i = 0; i < 20; i++) store.set(`k${i}`, { n: i });
    assert.equal(events.length, 15);
    for (const [key, value, cause] of events) {
      assert.equal(cause, "evicted");
      assert.deepEqual(value, { n: Number(key.slice(1)) });
    }
    assert.equal(store.stats().evictions, 15);
    assert.equal(store.size, 5);
    const left = Array.from({ length: 20 }, (_, i) => `k${i}`).filter((key) => store.has(key));
    assert.deepEqual(
      [...events.map(([key]) => key), ...left].sort(),
      [
        ...Array.from({ length: 20 }, (_, i) => `k${i}`),
      ].sort(),
    );
    assert.equal(store.has("k19"), true, "the entry just written stays");
  });

  Deno.test(`policy "${policy}" keeps maxBytes with sizeOf`, () => {
    const sizes = new Map<string, number>();
    let evictions = 0;
    const store = new MemoryStore({
      maxEntries: 0,
      maxBytes: 1000,
      sizeOf: (value) => (value as string).length,
      policy,
      onEvict: (_key, _value, cause) => void (cause === "evicted" && evictions++),
    });
    // Past the store's initial 64 slots, so the policy is resized too.
    for (let i = 0; i < 2000; i++) {
      const key = `k${i}`;
      const value = "x".repeat(1 + (i * 37) % 40);
      sizes.set(key, value.length);
      assert.equal(store.set(key, value), true);
      if (i % 3 === 0) store.get(`k${i >> 1}`);
      assert.equal(store.has(key), true, `${key} just written`);
      if (i > 200 && (i % 97 === 0 || i > 1990)) {
        let bytes = 0;
        for (const [k, size] of sizes) if (store.has(k)) bytes += size;
        assert.ok(bytes <= 1000, `${bytes} bytes held after ${key}`);
        assert.ok(bytes > 900, `only ${bytes} bytes held after ${key}`);
      }
    }
    assert.equal(store.set("huge", "y".repeat(1001)), false);
    assert.equal(store.stats().evictions, evictions);
    assert.ok(evictions > 1000);
  });

  Deno.test(`policy "${policy}" keeps an entry whose overwrite outgrows maxBytes`, () => {
    const store = new MemoryStore({
      maxEntries: 0,
      maxBytes: 100,
      sizeOf: (value) => (value as string).length,
      policy,
    });
    for (let i = 0; i < 10; i++) store.set(`k${i}`, "x".repeat(10));
    for (const key of ["k0", "k9", "k5"]) {
      assert.equal(store.set(key, "y".repeat(30)), true);
      assert.equal(store.get(key), "y".repeat(30), `${key} was just written`);
    }
    const held = Array.from({ length: 10 }, (_, i) => store.get<string>(`k${i}`) ?? "").join("");
    assert.ok(held.length <= 100 && held.length >= 90, `${held.length} bytes held`);
  });

  Deno.test(`policy "${policy}" works again after clear()`, () => {
    const store = new MemoryStore({ maxEntries: 10, policy });
    for (let i = 0; i < 30; i++) store.set(`a${i}`, i);
    store.clear();
    assert.equal(store.size, 0);
    for (let i = 0; i < 30; i++) store.set(`b${i}`, i);
    assert.equal(store.size, 10);
    assert.equal(store.get("b29"), 29);
    assert.equal(store.stats().evictions, 40);
  });
}

Deno.test("an unknown policy name is a TypeError listing the known ones", () => {
  assert.throws(
    () => new MemoryStore({ policy: "arc" as PolicyName }),
    (e: Error) =>
      e instanceof TypeError &&
      e.message.includes('unknown policy "arc"') &&
      e.message.includes('"s3fifo", "tinylfu"'),
  );
});

/** Replays `trace` through a real MemoryStore (get, then set on a miss); hits in percent. */
function storeHitRatio(trace: Trace, maxEntries: number, policy: PolicyFactory): number {
  const store = new MemoryStore({ maxEntries, defaultTtl: 0, clone: false, policy });
  for (const id of trace.requests) {
    const key = trace.keys[id]!;
    if (store.get(key) === undefined) store.set(key, id);
  }
  return (100 * store.stats().hits) / trace.requests.length;
}

Deno.test("the hit-ratio simulator drives every policy exactly as MemoryStore does", () => {
  const trace = zipfTrace(0.9, 2000, 20_000, 7);
  for (const policy of NAMES) {
    const expected = storeHitRatio(trace, 200, SEEDED[policy]!);
    assert.equal(simulate(trace, SEEDED[policy]!, 200), expected, policy);
    assert.ok(expected > 10, `${policy}: ${expected} %`);
  }
});

// Issue 14: the store starts at 65 536 slots and doubles; growing must not lose what the policy
// learned (the sketch was replaced on growth), so store and simulator agree hit for hit.
Deno.test("above 65 536 entries, the store and the simulator agree hit for hit", () => {
  const size = 70_000;
  // Phases, so the sketch's history matters: the hot set moves twice.
  const parts = [1, 2, 3].map((seed) => zipfTrace(0.9, 4 * size, 2 * size, seed));
  const requests = new Int32Array(parts.reduce((n, part) => n + part.requests.length, 0));
  parts.forEach((part, i) => requests.set(part.requests, i * part.requests.length));
  const trace: Trace = { name: "phases", requests, keys: parts[0]!.keys };
  for (const policy of ["tinylfu", "adaptive", "s3fifo"]) {
    const expected = simulate(trace, SEEDED[policy]!, size);
    assert.equal(storeHitRatio(trace, size, SEEDED[policy]!), expected, policy);
    assert.ok(expected > 20, `${policy}: ${expected} %`);
  }
});

// Issue 11 item 4: onEvict is told after the store is consistent (lru-cache's dispose-after),
// and a callback's own writes never evict the entry whose write it is being told about.
for (const policy of NAMES) {
  Deno.test(`policy "${policy}": an onEvict that writes to the store keeps the write in progress`, () => {
    const reported: string[] = [];
    let writing = "";
    const store: MemoryStore = new MemoryStore({
      maxEntries: 3,
      defaultTtl: 0,
      policy,
      onEvict: (key, _value, cause) => {
        if (cause !== "evicted") return;
        reported.push(key);
        // Told once the write that evicted is complete: it is there, within the bound.
        assert.equal(store.has(writing), true, `${policy}: "${writing}" during onEvict`);
        assert.ok(store.size <= 3, `${policy}: size ${store.size} during onEvict`);
        if (key !== "last") store.set("last", key);
      },
    });
    const written = new Set(["last"]);
    for (const key of ["a", "b", "c", "d", "e", "f", "g", "h"]) {
      writing = key;
      written.add(key);
      store.set(key, key);
      assert.equal(store.get(key), key, `${policy}: "${key}" was just written`);
      assert.equal(store.size, Math.min(written.size - 1, 3), `${policy}: size after "${key}"`);
    }
    // Nothing vanished unreported: what is held plus what was reported is all that was written.
    const held = [...written].filter((key) => store.has(key));
    assert.equal(held.length, 3);
    assert.deepEqual(new Set([...held, ...reported]), written, reported.join(" "));
  });
}

Deno.test("an onEvict that writes during a replace or an expiry sees a consistent store", () => {
  let time = 0;
  const store: MemoryStore = new MemoryStore({
    maxEntries: 2,
    defaultTtl: 0,
    policy: "lifo",
    now: () => time,
    onEvict: (key, _value, cause) => {
      // While being told, the store already holds the new state.
      if (cause === "replaced") assert.equal(store.get(key), "new");
      if (cause === "expired") assert.equal(store.has(key), false);
      if (!key.startsWith("re:")) store.set(`re:${key}`, cause);
    },
  });
  store.set("a", "old");
  store.set("a", "new");
  assert.equal(store.get("a"), "new");
  store.set("t", "x", 10);
  time = 20;
  assert.equal(store.get("t"), undefined);
  assert.equal(store.size, 2);
});

// Issue 14: the adaptive default.
function replay(policy: AdaptiveTinyLfuPolicy, trace: Trace, size: number): number {
  return simulate(trace, () => policy, size);
}

Deno.test("adaptive: the window shrinks to its smallest on a loop larger than the cache", () => {
  const size = 1000;
  const requests = new Int32Array(200 * size).map((_, i) => i % (1.2 * size));
  const trace: Trace = {
    name: "loop",
    requests,
    keys: Array.from({ length: 1.2 * size }, (_, i) => `k${i}`),
  };
  const policy = new AdaptiveTinyLfuPolicy(size + 1, undefined, { seed: 1 });
  assert.equal(policy.window, 0.2);
  const ratio = replay(policy, trace, size);
  assert.equal(policy.window, 0);
  // LRU scores 0 here; the best possible is size / loop ≈ 83 %.
  assert.ok(ratio > 75, `${ratio} %`);
});

Deno.test("adaptive: the window grows on recency bursts, and beats the fixed 1 % window", () => {
  const [, , , bursts] = adversarialTraces(1000, 5);
  const policy = new AdaptiveTinyLfuPolicy(1001, undefined, { seed: 1 });
  const adaptive = replay(policy, bursts!, 1000);
  assert.ok(policy.window >= 0.5, `window ${policy.window}`);
  const fixed = simulate(bursts!, (c) => new TinyLfuPolicy(c, { seed: 1 }), 1000);
  const lru = simulate(bursts!, POLICIES.lru!, 1000);
  assert.ok(adaptive > fixed + 1, `adaptive ${adaptive} %, tinylfu ${fixed} %`);
  assert.ok(adaptive > lru - 0.5, `adaptive ${adaptive} %, lru ${lru} %`);
});

Deno.test("adaptive and tinylfu hash with a seed of their own, and check it", () => {
  // Same operations, different seeds: the sketch sees different collisions, so on a workload
  // where ties matter the two evict differently at least once.
  const trace = zipfTrace(0.7, 5000, 20_000, 3);
  const a = simulate(trace, (c) => new AdaptiveTinyLfuPolicy(c, undefined, { seed: 1 }), 300);
  const b = simulate(trace, (c) => new AdaptiveTinyLfuPolicy(c, undefined, { seed: 2 }), 300);
  const again = simulate(trace, (c) => new AdaptiveTinyLfuPolicy(c, undefined, { seed: 1 }), 300);
  assert.equal(a, again);
  assert.notEqual(a, b);
  assert.throws(() => new AdaptiveTinyLfuPolicy(10, undefined, { seed: 1.5 }), {
    name: "TypeError",
    message: "Cannot create adaptive policy: seed must be an integer, received 1.5",
  });
  assert.throws(() => new TinyLfuPolicy(10, { seed: Number.NaN }), {
    name: "TypeError",
    message: "Cannot create tinylfu policy: seed must be an integer, received NaN",
  });
});

Deno.test("adaptive admits a warm candidate at random now and then, so the main space cannot be locked", async () => {
  const { _WindowTinyLfu, WINDOW } = await import("../policies/_wtinylfu.ts");
  // 10 entries. The first ten keys are used 15 times; each newcomer 8 times (warm, but less
  // than any victim): by frequency alone, no newcomer would ever enter the main space.
  // A sketch sized for many keys, so it does not age during the test.
  const engine = new _WindowTinyLfu(11, 1 << 17, 0, 99);
  for (let slot = 0; slot < 10; slot++) {
    engine.insert(slot, 1000 + slot);
    for (let use = 0; use < 15; use++) engine.sketch.increment(1000 + slot);
  }
  let admitted = 0, free = 10;
  for (let round = 0; round < 20_000; round++) {
    const hash = 5000 + round;
    for (let use = 0; use < 8; use++) engine.sketch.increment(hash);
    engine.insert(free, hash);
    const candidate = engine.queues.tail[WINDOW]!;
    const victim = engine.victim();
    if (round > 0 && victim !== candidate) admitted++;
    engine.remove(victim);
    free = victim;
  }
  // One time in 1 024 on average: about 20 in 20 000.
  assert.ok(admitted >= 5 && admitted <= 60, `admitted ${admitted}`);
});

Deno.test("policy constructors reject unknown option names, listing the accepted ones", () => {
  assert.throws(() => new RandomPolicy(4, { sed: 1 } as never), {
    name: "TypeError",
    message: 'Cannot create RandomPolicy: unknown option "sed" (accepted: seed)',
  });
  assert.throws(() => new TinyLfuPolicy(4, { windw: 0.1 } as never), {
    name: "TypeError",
    message: 'Cannot create TinyLfuPolicy: unknown option "windw" (accepted: limit, seed, window)',
  });
  assert.throws(() => new AdaptiveTinyLfuPolicy(4, 5, { window: 0.1 } as never), {
    name: "TypeError",
    message: 'Cannot create AdaptiveTinyLfuPolicy: unknown option "window" (accepted: seed)',
  });
  assert.throws(() => new RandomPolicy(4, null as never), {
    name: "TypeError",
    message: "Cannot create RandomPolicy: options must be an object, received null",
  });
  // Known names still work.
  new RandomPolicy(4, { seed: 1 });
  new TinyLfuPolicy(4, { window: 0.1, limit: 5, seed: 1 });
  new AdaptiveTinyLfuPolicy(4, 5, { seed: 1 });
});

// Issue 14, speed work: the first round made the hit path cheaper (miniatures' id table, spreads
// computed once, queue moves), not different: these counts were then the policy's as first shipped
// (commit 97cb8bd). The second round's resting miniatures (below 4 096 entries) changed them, with
// hit-ratio evidence (docs/benchmarks.md): Zipf 0.8 52847 → 52698, zipf-phases 53956 → 53954,
// bursts 75838 → 75826, the other two unchanged. Scores decaying by 0.9 per period instead of 0.8
// (robustness across hash seeds, docs/benchmarks.md): Zipf 0.8 52698 → 52333, zipf-phases 53954 →
// 53841, the other three unchanged. Session 3 (never below LRU by more than 0.5 point,
// docs/benchmarks.md): the miniatures rest only on a clear lead or, after 20 decisions, a tie of
// every window, and a larger window needs 0.75 margins for the first 20 decisions: Zipf 0.8
// 52333 → 52784, zipf-phases 53841 → 53930, bursts 75826 → 75837, the other two unchanged.
// The sixth workload, bursts-zipf, was added then (66547). Then the third speed round
// (docs/design.md; twelve-seed evidence in docs/benchmarks.md): a hit counts in its slot until the
// entry leaves or the sketch ages, hits count towards the sketch's aging at the next insert, and
// rests grow while they change nothing: Zipf 0.8 52784 → 53056, zipf-phases 53930 → 53933,
// scan-hot 67413 → 67412, loop-over 76465 → 76512, bursts 75837 → 75834, bursts-zipf 66547 →
// 66551. Replayed by the
// simulator with seed 42; any change of behaviour moves them.
Deno.test("adaptive: the faster hit path scores the same hits as before, hit for hit", () => {
  const seeded: PolicyFactory = (capacity, limit) =>
    new AdaptiveTinyLfuPolicy(capacity, limit, { seed: 42 });
  const hits = (trace: Trace, size: number) =>
    Math.round((simulate(trace, seeded, size) * trace.requests.length) / 100);
  const traces = [zipfTrace(0.8, 10_000, 100_000, 42), ...adversarialTraces(1000, 42)];
  assert.deepEqual(
    traces.map((trace) => `${trace.name} ${hits(trace, 1000)}`),
    [
      "Zipf 0.8 53056",
      "zipf-phases 53933",
      "scan-hot 67412",
      "loop-over 76512",
      "bursts 75834",
      "bursts-zipf 66551",
    ],
  );
});

// Issue 14, second speed round: below 4 096 entries the miniatures cost most of a hit, so they
// rest while the window choice is settled, and wake early when the real hit rate moves.
// Issue 14, memory at 100 000 entries: the miniatures' id space starts at 2.5 ids per entry and
// grows; ids are labels, so growing (here from one id, many times) changes no hit.
Deno.test("adaptive: the miniatures' id space grows without changing a hit", () => {
  const saved = { ..._tuning };
  const seeded: PolicyFactory = (capacity, limit) =>
    new AdaptiveTinyLfuPolicy(capacity, limit, { seed: 42 });
  const traces = [zipfTrace(0.8, 10_000, 100_000, 42), ...adversarialTraces(1000, 42)];
  const hits = () => traces.map((trace) => simulate(trace, seeded, 1000));
  const expected = hits();
  try {
    _tuning.ids = 0;
    assert.deepEqual(hits(), expected);
  } finally {
    Object.assign(_tuning, saved);
  }
});

// Issue 14, robustness across hash seeds: with scores decaying by 0.8 per period (a memory of
// about 2.5 × the cache size in requests) the window flapped between 0 % and 5 % hundreds of times
// on loops longer than that memory, for most seeds: here 2 270 moves over ten seeds, the worst
// seed at 23.2 %; the given loop trace lost up to 2 points at 256 and 512 entries. With 0.9: 180
// moves, every seed at 24.4–24.7 % (the 0 % window's; OPT 25 %). Session 3: with hits counted in
// their slot alone this went to 314 moves and a worst seed of 23.9 %; with the window decisions of
// the same session (a partial tie no longer settles the window) 129 moves, every seed at
// 24.5–24.7 %.
Deno.test("adaptive: the window does not flap on a loop four times the cache size", () => {
  const size = 256, span = 4 * size;
  const keys = Array.from({ length: span }, (_, i) => `loop:${i}`);
  const trace: Trace = {
    name: "loop",
    requests: new Int32Array(400 * span).map((_, i) => i % span),
    keys,
  };
  const saved = { ..._tuning };
  let moves = 0, worst = 100;
  try {
    for (const seed of [42, 1, 2, 3, 4, 5, 6, 7, 8, 9]) {
      const decisions: number[] = [];
      _tuning.trace = decisions;
      const ratio = simulate(
        trace,
        (capacity, limit) => new AdaptiveTinyLfuPolicy(capacity, limit, { seed }),
        size,
      );
      _tuning.trace = undefined;
      moves += decisions.filter((window, i) => i > 0 && window !== decisions[i - 1]).length;
      worst = Math.min(worst, ratio);
    }
  } finally {
    Object.assign(_tuning, saved);
  }
  assert.ok(moves <= 300, `${moves} window moves over ten seeds`);
  assert.ok(worst >= 24.3, `worst seed ${worst} %`);
});

// Issue 14, third speed round: a rest that changed nothing is followed by one twice as long (up to
// `restMax` periods), so a settled cache below 4 096 entries replays almost no sampled request;
// before, every rest was followed by four decisions of replay (its get hit at 1 000 entries: 1.20×
// lru-cache's → 1.05×, docs/benchmarks.md). Seeds 1, 2, 3, 42: 33–36 decisions growing, 104–207
// fixed.
Deno.test("adaptive: rests grow while they change nothing, and a hit-rate change ends them", () => {
  const saved = { ..._tuning };
  const run = (restMax: number) => {
    const decisions: number[] = [];
    Object.assign(_tuning, { restMax, trace: decisions });
    const policy = new AdaptiveTinyLfuPolicy(1001, 1001, { seed: 1 });
    const n = 1000;
    for (let slot = 0; slot < n; slot++) policy.insert(slot, `key:${slot}`);
    // Uniform hits on a full cache: every window scores alike, ~800 periods of 63 sampled hits.
    let state = 12345;
    for (let i = 0; i < 400_000; i++) {
      state = (Math.imul(state, 1103515245) + 12345) | 0;
      policy.access((state >>> 8) % n);
    }
    const settled = decisions.length;
    // Every request misses now: the hit rate falls from 100 % to 0 and the rest ends early.
    let free = n;
    for (let i = 0; i < 3000; i++) {
      policy.insert(free, `new:${i}`);
      free = policy.victim();
      policy.remove(free);
    }
    return { settled, after: decisions.length - settled };
  };
  try {
    const fixed = run(_tuning.rest), growing = run(96);
    // Fixed rests of 6 periods: a decision every 8 periods (rest, refill, decide).
    assert.ok(fixed.settled >= 80, `${fixed.settled} decisions with fixed rests`);
    // Growing: 6, 12, 24, 48, 96, 96 … periods, after the first 20 decisions (no tie settles
    // before them).
    assert.ok(growing.settled <= 45, `${growing.settled} decisions with growing rests`);
    assert.ok(growing.after >= 1, `${growing.after} decisions after the change`);
  } finally {
    Object.assign(_tuning, saved);
  }
});

Deno.test("adaptive: the miniatures rest while the choice is settled, and wake on a hit-rate change", () => {
  const saved = { ..._tuning };
  const decisions: number[] = [];
  // A rest far longer than the test: only the hit-rate watch can end it.
  Object.assign(_tuning, { rest: 100_000, trace: decisions });
  try {
    const policy = new AdaptiveTinyLfuPolicy(1001, 1001, { seed: 1 });
    const n = 1000;
    for (let slot = 0; slot < n; slot++) policy.insert(slot, `key:${slot}`);
    // Uniform hits on a full cache: every window scores alike. One request in 8 is sampled and
    // a period is 63 sampled requests, so 200 000 hits are ~400 periods; replayed without a
    // rest, ~400 decisions. A tie of every window rests only after 20 decisions (before that, the
    // miniatures may not have filled), so the first rest starts at about the 24th.
    let state = 12345;
    for (let i = 0; i < 200_000; i++) {
      state = (Math.imul(state, 1103515245) + 12345) | 0;
      policy.access((state >>> 8) % n);
    }
    const settled = decisions.length;
    assert.ok(settled > 20 && settled < 40, `${settled} decisions while settled`);
    // Now every request misses: the hit rate falls from 100 % to 0, the miniatures wake, refill
    // for a period and decide again, within a few periods (~500 requests each).
    let free = n;
    for (let i = 0; i < 3000; i++) {
      policy.insert(free, `new:${i}`);
      free = policy.victim();
      policy.remove(free);
    }
    assert.ok(decisions.length > settled, `${decisions.length} decisions after the change`);
  } finally {
    Object.assign(_tuning, saved);
  }
});

// Issue 14, "never below LRU by more than 0.5 point" (session 3). Each of these fell below LRU by
// more: bursts at 1 000 entries, seeds 8 and 10 (1.52 and 1.11 below: the miniatures rested at a
// 20 % window on the tie of every window while they were still filling, and at 50 % on a near tie
// with 100 %, while the real cache lost 15–25 and 1–2 points a period there); zipf-phases at
// 10 000 entries, seed 42 (0.60 below: miniatures sampling one key in 64 ranked the windows by which
// hot keys the sample happened to catch).
Deno.test("adaptive: never more than 0.5 point below LRU where the window decisions failed", () => {
  const cases: [string, number, number][] = [
    ["bursts", 1000, 8],
    ["bursts", 1000, 10],
    ["zipf-phases", 10_000, 42],
  ];
  const below = cases.map(([name, size, seed]) => {
    const trace = adversarialTraces(size, seed).find((trace) => trace.name === name)!;
    const adaptive = simulate(
      trace,
      (capacity, limit) => new AdaptiveTinyLfuPolicy(capacity, limit, { seed }),
      size,
    );
    const lru = simulate(trace, POLICIES.lru!, size);
    return `${name}@${size} seed ${seed}: ${(lru - adaptive).toFixed(2)}`;
  });
  const worst = Math.max(...below.map((line) => Number(line.split(": ")[1])));
  assert.ok(worst <= 0.5, below.join(", "));
});

// Recency bursts, then a Zipf phase (bursts-zipf). The 100 % miniature has no sketch, so after a
// rest it was at full strength at once while the others' sketches had missed the rest: its lead
// settled the window again and again, and the window stayed at 100 % through the Zipf phase (final
// window 100 % at these four seeds before session 3 and with its first two changes; 0.08–1.50
// points below LRU at 1 000 entries before). A lead of the 100 % window no longer rests them.
Deno.test("adaptive: after recency bursts, a Zipf phase brings the window down from 100 %", () => {
  const size = 1000;
  const results = [42, 1, 2, 10].map((seed) => {
    const trace = adversarialTraces(size, seed).find((trace) => trace.name === "bursts-zipf")!;
    const policy = new AdaptiveTinyLfuPolicy(size + 1, undefined, { seed });
    const adaptive = simulate(trace, () => policy, size);
    const lru = simulate(trace, POLICIES.lru!, size);
    return { window: policy.window, aboveLru: Math.round((adaptive - lru) * 100) / 100 };
  });
  assert.ok(
    // (20 % for every seed before the third speed round; since, seed 10 ends at 50 %, 1.39 above
    // LRU: the window came down, and the last 20 % vs 50 % choice is within the miniatures' tie.)
    results.every(({ window, aboveLru }) => window <= 0.5 && aboveLru > 0),
    JSON.stringify(results),
  );
});

// Before session 3 the window took 47 000 and 97 000 requests to reach 100 % on bursts at 1 000
// entries for seeds 1 and 10, and never did for seed 8 (rests on ties; at a 20 % window the real
// cache scores 15–25 points below LRU there). Now every seed of 42, 1 … 11 reaches it within
// 15 400 requests.
Deno.test("adaptive: on recency bursts the window reaches 100 % within 16 000 requests", () => {
  const size = 1000;
  const reached = [1, 8, 10].map((seed) => {
    const trace = adversarialTraces(size, seed).find((trace) => trace.name === "bursts")!;
    const policy = new AdaptiveTinyLfuPolicy(size + 1, undefined, { seed });
    // simulate() drives it through a wrapper that notes the request at which the window first
    // reaches 100 %.
    let request = -1, reached = -1;
    const watch = () => {
      if (reached < 0 && policy.window === 1) reached = request;
    };
    const watched: EvictionPolicy = {
      resize: (capacity) => policy.resize(capacity),
      insert: (slot, key) => (request++, policy.insert(slot, key), watch()),
      access: (slot) => (request++, policy.access(slot), watch()),
      update: (slot) => policy.update(slot),
      remove: (slot) => (policy.remove(slot), watch()),
      victim: () => {
        const victim = policy.victim();
        watch();
        return victim;
      },
      clear: () => policy.clear(),
    };
    simulate(trace, () => watched, size);
    return reached;
  });
  assert.ok(reached.every((at) => at >= 0 && at < 16_000), `reached 100 % at ${reached}`);
});

Deno.test("a blocked doorkeeper keeps every estimate exactly when the sketch grows", () => {
  const sketch = new _FrequencySketch(40_000, 10, true);
  const hashes = Array.from({ length: 20_000 }, (_, i) => (Math.imul(i + 1, 0x9e3779b1) >>> 2));
  hashes.forEach((hash, i) => {
    for (let k = 0; k <= i % 3; k++) sketch.increment(hash);
  });
  const before = hashes.map((hash) => sketch.frequency(hash));
  assert.ok(before.some((f) => f >= 2) && before.every((f) => f >= 1));
  sketch.grow(300_000);
  assert.deepEqual(hashes.map((hash) => sketch.frequency(hash)), before);
});
