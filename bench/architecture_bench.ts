// The hot paths that the hook contract runs through, before and after a change, in one run.
// Each contender has its own Deno.bench (its own loop); the baselines are lru-cache behind an
// async function (what a Cache wrapping it would cost) and the raw node-redis client.
//
//   deno bench --allow-all bench/architecture_bench.ts
//
// To add "before" rows, export an older tree and point CACHELIB_BEFORE at it:
//   git archive <rev> | tar -x -C /tmp/before
//   CACHELIB_BEFORE=/tmp/before deno bench --allow-all bench/architecture_bench.ts
import { LRUCache } from "lru-cache";
import { createClient } from "redis";
import * as after from "../mod.ts";
import { startServer } from "../tests/servers.ts";

const beforeDir = Deno.env.get("CACHELIB_BEFORE");
const before: typeof after | undefined = beforeDir
  ? await import(`file://${beforeDir}/mod.ts`)
  : undefined;
const builds = before ? { after, before } : { after };

const N = 1000;
const keys = Array.from({ length: N }, (_, i) => `key:${i}`);
let i = 0;
const next = () => keys[i++ % N]!;

const lru = new LRUCache<string, number>({ max: N, ttl: 300_000 });
for (const [n, key] of keys.entries()) lru.set(key, n);
// deno-lint-ignore require-await
const lruAsync = async (key: string) => lru.get(key);

for (const policy of ["lru", "default"] as const) {
  const group = `await get hit, policy ${policy}`;
  Deno.bench("lru-cache get in an async fn", { group, baseline: true }, async () => {
    await lruAsync(next());
  });
  for (const [name, lib] of Object.entries(builds)) {
    const cache = new lib.MemoryCache(
      policy === "lru" ? { maxEntries: N, policy: "lru" } : { maxEntries: N },
    );
    for (const [n, key] of keys.entries()) await cache.set(key, n);
    Deno.bench(`MemoryCache.get (${name})`, { group }, async () => {
      await cache.get(next());
    });
  }
}

for (const [name, lib] of Object.entries(builds)) {
  const cache = new lib.MemoryCache({ maxEntries: N, policy: "lru" });
  Deno.bench(`MemoryCache.set (${name})`, { group: "await set, policy lru" }, async () => {
    await cache.set(next(), i);
  });
}

for (const [name, lib] of Object.entries(builds)) {
  const cache = new lib.MemoryCache({ maxEntries: N, policy: "lru", defaultTtl: 0 });
  const square = lib.memoize(function square(n: number): number {
    return n * n;
  }, { cache });
  await square(12);
  Deno.bench(`memoized hit (${name})`, { group: "memoize hit" }, async () => {
    await square(12);
  });
}

const server = await startServer("redis");
// deno bench has no "after all" hook: stop() sends SIGTERM synchronously
globalThis.addEventListener("unload", () => void server.stop());
const raw = createClient({ url: server.url });
raw.on("error", () => {});
await raw.connect();
const value = "a short value of about forty bytes......";
const many = Array.from({ length: 100 }, (_, n) => `k${n}`);
await raw.set("raw:k", value);
for (const key of many) await raw.set(`raw:${key}`, value);
const opts = { n: 3000, warmup: 300 };
Deno.bench("node-redis GET", { group: "redis get", baseline: true, ...opts }, async () => {
  await raw.get("raw:k");
});
Deno.bench(
  "node-redis MGET 100",
  { group: "redis getMany(100)", baseline: true, ...opts },
  async () => {
    await raw.mGet(many.map((key) => `raw:${key}`));
  },
);
for (const [name, lib] of Object.entries(builds)) {
  const cache = new lib.RedisCache({ url: server.url, keyPrefix: `${name}:` });
  await cache.set("k", value);
  await cache.setMany(many.map((key) => [key, value] as const));
  Deno.bench(`RedisCache.get (${name})`, { group: "redis get", ...opts }, async () => {
    await cache.get("k");
  });
  Deno.bench(
    `RedisCache.getMany 100 (${name})`,
    { group: "redis getMany(100)", ...opts },
    async () => {
      await cache.getMany(many);
    },
  );
}
