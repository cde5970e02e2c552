// Memory per entry: MemoryStore (default policy, s3fifo, lru) against npm:lru-cache, full at
// 1e5 and 1e6 entries, with and without a ttl. Key strings and values (small integers) are made
// before the first measurement, so only what each cache adds is counted (heap + external: typed
// arrays are external).
//   deno run --allow-all --v8-flags=--expose-gc bench/memory_size.ts
// With --parts, first the policies' own state, part by part (bytes per entry, each part built
// alone at the size a full store gives it).
import { LRUCache } from "lru-cache";
import { MemoryStore } from "../mod.ts";
import { AdaptiveTinyLfuPolicy } from "../policies/adaptive.ts";
import { S3FifoPolicy } from "../policies/s3fifo.ts";
import { LruPolicy } from "../policies/lru.ts";
import { _WindowTinyLfu } from "../policies/_wtinylfu.ts";
import { _FrequencySketch } from "../policies/_sketch.ts";
import { _Queues } from "../policies/_queues.ts";
import { _Ghost } from "../policies/_ghost.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("Cannot measure memory: run with --v8-flags=--expose-gc");
const heap = () => {
  for (let i = 0; i < 3; i++) gc();
  const { heapUsed, external } = Deno.memoryUsage();
  return heapUsed + external; // typed arrays live outside the heap
};

/**
 * Bytes per entry that `make` holds on to, for a store of `n` entries: the least of three
 * (the first construction also allocates code and feedback for the classes, up to 4 bytes per
 * entry at 1e5).
 */
function footprint(n: number, make: () => unknown): number {
  let least = Infinity;
  for (let i = 0; i < 3; i++) {
    const before = heap();
    let made: unknown = make();
    least = Math.min(least, heap() - before);
    made = undefined;
    void made;
  }
  return least / n;
}

if (Deno.args.includes("--parts")) {
  console.log("| entries | part | bytes per entry |\n| ---: | --- | ---: |");
  for (const n of [100_000, 1_000_000]) {
    const slots = n + 1; // a bounded store's slot capacity: maxEntries + 1
    const row = (name: string, make: () => unknown) =>
      console.log(`| ${n.toLocaleString("en-US")} | ${name} | ${footprint(n, make).toFixed(2)} |`);
    row("lru: policy", () => new LruPolicy(slots));
    const adaptive = footprint(n, () => new AdaptiveTinyLfuPolicy(slots, slots, { seed: 1 }));
    const engine = footprint(n, () => new _WindowTinyLfu(slots, slots, 0.2, 1));
    const sketch = footprint(n, () => new _FrequencySketch(slots, 5));
    const queues3 = footprint(n, () => new _Queues(3, slots));
    console.log(`| ${n.toLocaleString("en-US")} | adaptive: policy | ${adaptive.toFixed(2)} |`);
    console.log(
      `| ${n.toLocaleString("en-US")} | · sketch (counters + doorkeeper) | ${sketch.toFixed(2)} |`,
    );
    console.log(`| ${n.toLocaleString("en-US")} | · queues (3) | ${queues3.toFixed(2)} |`);
    console.log(
      `| ${n.toLocaleString("en-US")} | · hashes | ${(engine - sketch - queues3).toFixed(2)} |`,
    );
    console.log(
      `| ${n.toLocaleString("en-US")} | · miniatures | ${(adaptive - engine).toFixed(2)} |`,
    );
    const s3 = footprint(n, () => new S3FifoPolicy(slots));
    const ghost = footprint(n, () => new _Ghost(slots));
    const queues2 = footprint(n, () => new _Queues(2, slots));
    console.log(`| ${n.toLocaleString("en-US")} | s3fifo: policy | ${s3.toFixed(2)} |`);
    console.log(`| ${n.toLocaleString("en-US")} | · ghost | ${ghost.toFixed(2)} |`);
    console.log(`| ${n.toLocaleString("en-US")} | · queues (2) | ${queues2.toFixed(2)} |`);
    console.log(
      `| ${n.toLocaleString("en-US")} | · hashes, use counts | ${
        (s3 - ghost - queues2).toFixed(2)
      } |`,
    );
  }
  console.log();
}

type Filler = (keys: string[]) => unknown;
const CASES: [string, Filler][] = [
  ["lru-cache", (keys) => {
    const cache = new LRUCache<string, number>({ max: keys.length });
    keys.forEach((key, i) => cache.set(key, i));
    return cache;
  }],
  ["lru-cache (ttl)", (keys) => {
    const cache = new LRUCache<string, number>({ max: keys.length, ttl: 300_000 });
    keys.forEach((key, i) => cache.set(key, i));
    return cache;
  }],
  ...(["adaptive", "s3fifo", "lru"] as const).flatMap((policy): [string, Filler][] => [
    [`MemoryStore ${policy}, no ttl`, (keys) => {
      const store = new MemoryStore({ maxEntries: keys.length, defaultTtl: 0, policy });
      keys.forEach((key, i) => store.set(key, i));
      return store;
    }],
    [`MemoryStore ${policy} (ttl)`, (keys) => {
      const store = new MemoryStore({ maxEntries: keys.length, policy });
      keys.forEach((key, i) => store.set(key, i));
      return store;
    }],
  ]),
];

const rows: string[] = [];
for (const n of [100_000, 1_000_000]) {
  const keys = Array.from({ length: n }, (_, i) => `key:${i}`);
  const results = new Map<string, number>();
  for (const [name, fill] of CASES) {
    const before = heap();
    let cache: unknown = fill(keys);
    const perEntry = (heap() - before) / n;
    results.set(name, perEntry);
    cache = undefined;
    void cache;
  }
  for (const [name, perEntry] of results) {
    const base = results.get(
      name.includes("no ttl") || name === "lru-cache" ? "lru-cache" : "lru-cache (ttl)",
    )!;
    rows.push(
      `| ${n.toLocaleString("en-US")} | ${name} | ${perEntry.toFixed(1)} | ${
        (perEntry / base).toFixed(2)
      } |`,
    );
  }
}
console.log("| entries | cache | bytes per entry | / lru-cache |\n| ---: | --- | ---: | ---: |");
console.log(rows.join("\n"));
