// Memory per entry: MemoryStore (default policy, s3fifo, lru) against npm:lru-cache, full at
// 1e5 and 1e6 entries, with and without a ttl. Key strings and values (small integers) are made
// before the first measurement, so only what each cache adds is counted (heap + external: typed
// arrays are external).
//   deno run --allow-all --v8-flags=--expose-gc bench/memory_size.ts
import { LRUCache } from "lru-cache";
import { MemoryStore } from "../mod.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("Cannot measure memory: run with --v8-flags=--expose-gc");
const heap = () => {
  for (let i = 0; i < 3; i++) gc();
  const { heapUsed, external } = Deno.memoryUsage();
  return heapUsed + external; // typed arrays live outside the heap
};

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
