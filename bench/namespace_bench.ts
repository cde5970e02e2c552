// Namespaces: a namespaced get (generation cached) against a plain get on the same parent,
// same run, on MemoryCache and on RedisCache (a redis-server this file starts itself).
//   deno bench --allow-all bench/namespace_bench.ts
import { startServer } from "../tests/servers.ts";
import { MemoryCache, RedisCache } from "../mod.ts";

const N = 1000;
const keys = Array.from({ length: N }, (_, i) => `key:${i}`);
const record = { id: 7, name: "Ada Lovelace", email: "ada@example.com", admin: false, score: 97.5 };

const memory = new MemoryCache({ defaultTtl: 0, maxEntries: 10_000 });
// A long generationTtl: the bench measures the cached-generation path, not a re-read per second.
const memoryNs = memory.namespace("users", { generationTtl: 3_600_000 });
const server = await startServer("redis");
const redis = new RedisCache({ url: server.url, keyPrefix: "bench:", defaultTtl: 0 });
const redisNs = redis.namespace("users", { generationTtl: 3_600_000 });
for (const key of keys) {
  await memory.set(key, record);
  await memoryNs.set(key, record);
  await redis.set(key, record);
  await redisNs.set(key, record);
}
globalThis.addEventListener("unload", () => {
  redis.close();
  server.stop();
});
let i = 0;
const next = () => keys[i++ % N]!;

Deno.bench("MemoryCache.get hit", { group: "memory", baseline: true }, async () => {
  await memory.get(next());
});
Deno.bench("MemoryCache.namespace().get hit", { group: "memory" }, async () => {
  await memoryNs.get(next());
});
Deno.bench("RedisCache.get hit", { group: "redis", baseline: true }, async () => {
  await redis.get(next());
});
Deno.bench("RedisCache.namespace().get hit", { group: "redis" }, async () => {
  await redisNs.get(next());
});
