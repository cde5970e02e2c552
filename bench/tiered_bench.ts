// TieredCache: an L1 hit against a MemoryCache hit (the baseline), same run, same values.
//   deno bench --allow-all bench/tiered_bench.ts
import { MemoryCache, TieredCache } from "../mod.ts";

const N = 1000;
const keys = Array.from({ length: N }, (_, i) => `key:${i}`);
const record = { id: 7, name: "Ada Lovelace", email: "ada@example.com", admin: false, score: 97.5 };

const memory = new MemoryCache({ defaultTtl: 0, maxEntries: 10_000 });
const tiered = new TieredCache({
  l1: new MemoryCache({ defaultTtl: 0, maxEntries: 10_000 }),
  l2: new MemoryCache({ defaultTtl: 0, maxEntries: 10_000 }),
  l1MaxTtl: 0,
});
for (const key of keys) {
  await memory.set(key, 1);
  await tiered.set(key, 1);
  await memory.set(`r:${key}`, record);
  await tiered.set(`r:${key}`, record);
}
let i = 0;
const next = () => keys[i++ % N]!;
const nextRecord = () => `r:${keys[i++ % N]!}`;

Deno.bench("MemoryCache.get hit (number)", { group: "hit number", baseline: true }, async () => {
  await memory.get(next());
});
Deno.bench("TieredCache.get L1 hit (number)", { group: "hit number" }, async () => {
  await tiered.get(next());
});
Deno.bench("MemoryCache.get hit (record)", { group: "hit record", baseline: true }, async () => {
  await memory.get(nextRecord());
});
Deno.bench("TieredCache.get L1 hit (record)", { group: "hit record" }, async () => {
  await tiered.get(nextRecord());
});
