// MemoryStore / MemoryCache against their baselines: a raw Map and
// npm:lru-cache (with and without a ttl), all in the same run.
//   deno bench --allow-all bench/memory_bench.ts
import { LRUCache } from "lru-cache";
import { MemoryCache, MemoryStore } from "../mod.ts";

const N = 1000;
const keys = Array.from({ length: N }, (_, i) => `key:${i}`);
const fresh = Array.from({ length: 100_000 }, (_, i) => `fresh:${i}`);
const record = { id: 7, name: "Ada Lovelace", email: "ada@example.com", admin: false, score: 97.5 };

const map = new Map<string, number>();
const lru = new LRUCache<string, number>({ max: N });
const lruTtl = new LRUCache<string, number>({ max: N, ttl: 300_000 });
// The engine against lru-cache: same policy (LRU). The default policy has its own group below.
const store = new MemoryStore({ maxEntries: N, defaultTtl: 0, policy: "lru" });
const storeTtl = new MemoryStore({ maxEntries: N, policy: "lru" });
const cache = new MemoryCache({ maxEntries: N, policy: "lru" });
const storeDefault = new MemoryStore({ maxEntries: N });
for (const [i, key] of keys.entries()) {
  map.set(key, i);
  lru.set(key, i);
  lruTtl.set(key, i);
  store.set(key, i);
  storeTtl.set(key, i);
  cache.store.set(key, i);
  storeDefault.set(key, i);
}
let i = 0;
const next = () => keys[i++ % N]!;

Deno.bench("Map.get", { group: "get hit, no ttl", baseline: true }, () => {
  map.get(next());
});
Deno.bench("lru-cache get", { group: "get hit, no ttl" }, () => {
  lru.get(next());
});
Deno.bench("MemoryStore get", { group: "get hit, no ttl" }, () => {
  store.get(next());
});

Deno.bench("lru-cache get (ttl)", { group: "get hit, ttl", baseline: true }, () => {
  lruTtl.get(next());
});
Deno.bench("MemoryStore get (ttl)", { group: "get hit, ttl" }, () => {
  storeTtl.get(next());
});

// The baseline is lru-cache behind an async function, as a Cache would wrap it.
// deno-lint-ignore require-await
const lruAsync = async (key: string) => lruTtl.get(key);
Deno.bench("lru-cache get via async fn", { group: "async get hit", baseline: true }, async () => {
  await lruAsync(next());
});
Deno.bench("MemoryCache get", { group: "async get hit" }, async () => {
  await cache.get(next());
});

// Evicting sets: every set inserts a key not in the (full) cache.
const evictMap = new Map<string, number>(keys.map((k, i) => [k, i]));
const evictLru = new LRUCache<string, number>({ max: N });
const evictLruTtl = new LRUCache<string, number>({ max: N, ttl: 300_000 });
const evictStore = new MemoryStore({ maxEntries: N, defaultTtl: 0, policy: "lru" });
const evictStoreTtl = new MemoryStore({ maxEntries: N, policy: "lru" });
const evictDefault = new MemoryStore({ maxEntries: N });
let j = 0;
const nextFresh = () => fresh[j++ % fresh.length]!;
Deno.bench("Map set + delete oldest", { group: "evicting set", baseline: true }, () => {
  evictMap.set(nextFresh(), j);
  evictMap.delete(evictMap.keys().next().value!);
});
Deno.bench("lru-cache set", { group: "evicting set" }, () => {
  evictLru.set(nextFresh(), j);
});
Deno.bench("MemoryStore set", { group: "evicting set" }, () => {
  evictStore.set(nextFresh(), j);
});
Deno.bench("lru-cache set (ttl)", { group: "evicting set" }, () => {
  evictLruTtl.set(nextFresh(), j);
});
Deno.bench("MemoryStore set (ttl)", { group: "evicting set" }, () => {
  evictStoreTtl.set(nextFresh(), j);
});

Deno.bench("lru-cache get (ttl)", { group: "default policy (tinylfu)", baseline: true }, () => {
  lruTtl.get(next());
});
Deno.bench("MemoryStore get (ttl), default policy", { group: "default policy (tinylfu)" }, () => {
  storeDefault.get(next());
});
Deno.bench("lru-cache set (ttl), evicting", { group: "default policy (tinylfu)" }, () => {
  evictLruTtl.set(nextFresh(), j);
});
Deno.bench(
  "MemoryStore set (ttl), evicting, default policy",
  { group: "default policy (tinylfu)" },
  () => {
    evictDefault.set(nextFresh(), j);
  },
);

// Reading an object back: what copy semantics cost.
const objects = new Map([["r", record]]);
const cloned = new MemoryStore();
const referenced = new MemoryStore({ clone: false });
cloned.set("r", record);
referenced.set("r", record);
const rich = { ...record, joined: new Date(0), tags: new Set(["a", "b"]) };
cloned.set("rich", rich);
Deno.bench("Map.get (reference)", { group: "object get", baseline: true }, () => {
  objects.get("r");
});
Deno.bench("MemoryStore get, clone: false", { group: "object get" }, () => {
  referenced.get("r");
});
Deno.bench("MemoryStore get, plain object copy", { group: "object get" }, () => {
  cloned.get("r");
});
Deno.bench("structuredClone(plain object)", { group: "object get" }, () => {
  structuredClone(record);
});
Deno.bench("MemoryStore get, Date+Set object (structuredClone)", { group: "object get" }, () => {
  cloned.get("rich");
});

// The default policy against lru-cache at 1e3 … 1e6 entries (issue 14): keys read in a random
// order (a seeded shuffle, so the CPU cache cannot follow a cycle), every key string hashed
// once into a Map before timing (V8 caches a string's hash: the first insertion of a new key
// string costs ~350 ns, whoever pays it). Evicting sets write keys not in the cache, in order.
for (const n of [1_000, 10_000, 100_000, 1_000_000]) {
  const label = n.toLocaleString("en-US");
  const held = Array.from({ length: n }, (_, i) => `key:${i}`);
  const incoming = Array.from({ length: Math.max(2 * n, 100_000) }, (_, i) => `new:${n}:${i}`);
  const warm = new Map<string, number>();
  for (const key of held) warm.set(key, 0);
  for (const key of incoming) warm.set(key, 0);
  let state = 12345;
  const order = new Int32Array(1 << 20).map(() => {
    state = (Math.imul(state, 1103515245) + 12345) | 0;
    return (state >>> 8) % n;
  });
  const lruHit = new LRUCache<string, number>({ max: n });
  const lruHitTtl = new LRUCache<string, number>({ max: n, ttl: 300_000 });
  const ours = new MemoryStore({ maxEntries: n, defaultTtl: 0, clone: false });
  const oursTtl = new MemoryStore({ maxEntries: n, clone: false });
  for (const [i, key] of held.entries()) {
    lruHit.set(key, i);
    lruHitTtl.set(key, i);
    ours.set(key, i);
    oursTtl.set(key, i);
  }
  let r = 0;
  const nextHeld = () => held[order[r++ & 0xfffff]!]!;
  Deno.bench(`lru-cache get, ${label}`, { group: `get hit, ${label}`, baseline: true }, () => {
    lruHit.get(nextHeld());
  });
  Deno.bench(`MemoryStore get, default policy, ${label}`, { group: `get hit, ${label}` }, () => {
    ours.get(nextHeld());
  });
  Deno.bench(
    `lru-cache get (ttl), ${label}`,
    { group: `get hit (ttl), ${label}`, baseline: true },
    () => {
      lruHitTtl.get(nextHeld());
    },
  );
  Deno.bench(`MemoryStore get (ttl), default policy, ${label}`, {
    group: `get hit (ttl), ${label}`,
  }, () => {
    oursTtl.get(nextHeld());
  });

  const lruSet = new LRUCache<string, number>({ max: n });
  const lruSetTtl = new LRUCache<string, number>({ max: n, ttl: 300_000 });
  const oursSet = new MemoryStore({ maxEntries: n, defaultTtl: 0, clone: false });
  const oursSetTtl = new MemoryStore({ maxEntries: n, clone: false });
  for (const [i, key] of held.entries()) {
    lruSet.set(key, i);
    lruSetTtl.set(key, i);
    oursSet.set(key, i);
    oursSetTtl.set(key, i);
  }
  let w = 0;
  const nextNew = () => incoming[w++ % incoming.length]!;
  Deno.bench(`lru-cache set, ${label}`, { group: `evicting set, ${label}`, baseline: true }, () => {
    lruSet.set(nextNew(), w);
  });
  Deno.bench(
    `MemoryStore set, default policy, ${label}`,
    { group: `evicting set, ${label}` },
    () => {
      oursSet.set(nextNew(), w);
    },
  );
  Deno.bench(`lru-cache set (ttl), ${label}`, {
    group: `evicting set (ttl), ${label}`,
    baseline: true,
  }, () => {
    lruSetTtl.set(nextNew(), w);
  });
  Deno.bench(`MemoryStore set (ttl), default policy, ${label}`, {
    group: `evicting set (ttl), ${label}`,
  }, () => {
    oursSetTtl.set(nextNew(), w);
  });
}
