// Tags: a tagged get hit (its entry plus one batched read of its tags' versions) against an
// untagged get hit, and a getMany of 10 tagged keys against 10 untagged ones, same run, on
// MemoryCache and on RedisCache (a redis-server this file starts itself).
//   deno bench --allow-all bench/tags_bench.ts
import { startServer } from "../tests/servers.ts";
import { MemoryCache, RedisCache } from "../mod.ts";

const N = 1000;
const keys = Array.from({ length: N }, (_, i) => `key:${i}`);
const record = { id: 7, name: "Ada Lovelace", email: "ada@example.com", admin: false, score: 97.5 };
/** Two tags per entry: its user, and a group shared by 10 users. */
const tagsOf = (i: number) => [`user:${i}`, `group:${i % 100}`];

const memory = new MemoryCache({ defaultTtl: 0, maxEntries: 10_000 });
const server = await startServer("redis");
const redis = new RedisCache({ url: server.url, keyPrefix: "bench:", defaultTtl: 0 });
for (const [i, key] of keys.entries()) {
  for (const cache of [memory, redis]) {
    await cache.set(`plain:${key}`, record);
    await cache.set(`tagged:${key}`, record, { tags: tagsOf(i) });
  }
}
globalThis.addEventListener("unload", () => {
  redis.close();
  server.stop();
});
let i = 0;
const next = () => keys[i++ % N]!;
const batch = (prefix: string) => Array.from({ length: 10 }, () => `${prefix}${next()}`);

Deno.bench("MemoryCache.get hit, untagged", { group: "memory get", baseline: true }, async () => {
  await memory.get(`plain:${next()}`);
});
Deno.bench("MemoryCache.get hit, 2 tags", { group: "memory get" }, async () => {
  await memory.get(`tagged:${next()}`);
});
Deno.bench(
  "MemoryCache.getMany(10), untagged",
  { group: "memory getMany", baseline: true },
  async () => {
    await memory.getMany(batch("plain:"));
  },
);
Deno.bench("MemoryCache.getMany(10), 2 tags each", { group: "memory getMany" }, async () => {
  await memory.getMany(batch("tagged:"));
});
Deno.bench("RedisCache.get hit, untagged", { group: "redis get", baseline: true }, async () => {
  await redis.get(`plain:${next()}`);
});
Deno.bench("RedisCache.get hit, 2 tags", { group: "redis get" }, async () => {
  await redis.get(`tagged:${next()}`);
});
Deno.bench(
  "RedisCache.getMany(10), untagged",
  { group: "redis getMany", baseline: true },
  async () => {
    await redis.getMany(batch("plain:"));
  },
);
Deno.bench("RedisCache.getMany(10), 2 tags each", { group: "redis getMany" }, async () => {
  await redis.getMany(batch("tagged:"));
});
