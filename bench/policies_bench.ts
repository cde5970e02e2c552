// Each eviction policy's cost inside MemoryStore, against the LRU policy (the
// baseline of every group), a raw Map and npm:lru-cache, all in the same run.
//   deno bench --allow-all bench/policies_bench.ts
// With every policy in one process the store's calls into the policy see many
// classes and go megamorphic, which is not what an application (one policy)
// sees; POLICY=<name> benches only that policy against LRU:
//   for p in lfu fifo lifo mru random s3fifo tinylfu; do
//     POLICY=$p deno bench --allow-all bench/policies_bench.ts; done
import { LRUCache } from "lru-cache";
import { MemoryStore, POLICIES, type PolicyName } from "../mod.ts";

const N = 1000;
const keys = Array.from({ length: N }, (_, i) => `key:${i}`);
const fresh = Array.from({ length: 100_000 }, (_, i) => `fresh:${i}`);
const only = Deno.env.get("POLICY") as PolicyName | undefined;
const names: PolicyName[] = only ? ["lru", only] : Object.keys(POLICIES) as PolicyName[];

// get hit: a full cache, keys read round-robin.
const map = new Map<string, number>(keys.map((key, i) => [key, i]));
const lru = new LRUCache<string, number>({ max: N });
for (const [i, key] of keys.entries()) lru.set(key, i);
let i = 0;
const next = () => keys[i++ % N]!;
for (const name of names) {
  const store = new MemoryStore({ maxEntries: N, defaultTtl: 0, policy: name });
  for (const [i, key] of keys.entries()) store.set(key, i);
  // Every store reads and evicts before any bench runs, so the store's calls
  // into the policy have seen every class already (no first-bench advantage).
  for (let i = 0; i < 10 * N; i++) store.get(keys[i % N]!);
  Deno.bench(`MemoryStore get (${name})`, { group: "get hit", baseline: name === "lru" }, () => {
    store.get(next());
  });
}
Deno.bench("Map.get", { group: "get hit" }, () => {
  map.get(next());
});
Deno.bench("lru-cache get", { group: "get hit" }, () => {
  lru.get(next());
});

// evicting set: every set stores a key the (full) cache does not hold.
const evictMap = new Map<string, number>(keys.map((key, i) => [key, i]));
const evictLru = new LRUCache<string, number>({ max: N });
let j = 0;
const nextFresh = () => fresh[j++ % fresh.length]!;
for (const name of names) {
  const store = new MemoryStore({ maxEntries: N, defaultTtl: 0, policy: name });
  for (const [i, key] of keys.entries()) store.set(key, i);
  for (let i = 0; i < 10 * N; i++) store.set(`warm:${i}`, i);
  Deno.bench(
    `MemoryStore set (${name})`,
    { group: "evicting set", baseline: name === "lru" },
    () => {
      store.set(nextFresh(), j);
    },
  );
}
Deno.bench("Map set + delete oldest", { group: "evicting set" }, () => {
  evictMap.set(nextFresh(), j);
  evictMap.delete(evictMap.keys().next().value!);
});
Deno.bench("lru-cache set", { group: "evicting set" }, () => {
  evictLru.set(nextFresh(), j);
});
