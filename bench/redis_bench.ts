// RedisCache against the raw node-redis client it wraps, on one redis-server
// this file starts itself. Run: deno bench --allow-all bench/redis_bench.ts
import { createClient } from "redis";
import { startServer } from "../tests/servers.ts";
import { loadRedisBefore } from "./_redis_before.ts";
import { defaultSerializer, RedisCache, type Serializer } from "../mod.ts";

// "before": RedisCache as of BEFORE (strings and integers skipped a custom serializer), loaded
// from git into a temp dir with its imports pointed at this checkout, to compare in one run.
const BEFORE = "2cefa6c";
const Before = await loadRedisBefore(BEFORE);

const server = await startServer("redis");
// deno bench has no "after all" hook: stop() sends SIGTERM synchronously
globalThis.addEventListener("unload", () => void server.stop());

const raw = createClient({ url: server.url });
raw.on("error", () => {});
await raw.connect();
const cache = new RedisCache({ url: server.url, keyPrefix: "c:" });
/** A custom serializer that does what the default does (so only the path differs). */
const custom: Serializer = {
  serialize: (value) => defaultSerializer.serialize(value),
  deserialize: (bytes) => defaultSerializer.deserialize(bytes),
};
const customCache = new RedisCache({ url: server.url, keyPrefix: "s:", serializer: custom });
const before = Before && new Before({ url: server.url, keyPrefix: "c:" });
const beforeCustom = Before &&
  new Before({ url: server.url, keyPrefix: "bs:", serializer: custom });

// many samples: other processes share the machine, so compare min and p75 as well as avg
const single = { n: 5000, warmup: 500 };
const batch = { n: 1000, warmup: 100 };
const value = "a short value of about forty bytes......";
const ttl = 60_000;
const keys = Array.from({ length: 100 }, (_, i) => `key:${i}`);
const rawKeys = keys.map((key) => `r:${key}`);
const entries = keys.map((key, i) => [key, `${value}${i}`] as const);
const rawEntries = entries.map(([key, v]) => [`r:${key}`, v] as const);
await raw.set("r:one", value);
await cache.set("one", value);
await customCache.set("one", value);
await beforeCustom?.set("one", value);
await cache.setMany(entries);
for (const [key, v] of rawEntries) await raw.set(key, v);

Deno.bench("raw node-redis get", { ...single, group: "get", baseline: true }, async () => {
  await raw.get("r:one");
});
Deno.bench("RedisCache.get", { ...single, group: "get" }, async () => {
  await cache.get("one");
});

if (before && beforeCustom) {
  Deno.bench("before: RedisCache.get", { ...single, group: "get" }, async () => {
    await before.get("one");
  });
  Deno.bench("before: RedisCache.set", { ...single, group: "set" }, async () => {
    await before.set("one", value, ttl);
  });
  Deno.bench(
    "before: custom serializer get (string raw)",
    { ...single, group: "custom get" },
    async () => {
      await beforeCustom.get("one");
    },
  );
  Deno.bench(
    "before: custom serializer set (string raw)",
    { ...single, group: "custom set" },
    async () => {
      await beforeCustom.set("one", value, ttl);
    },
  );
}
Deno.bench(
  "custom serializer get (through it)",
  { ...single, group: "custom get", baseline: true },
  async () => {
    await customCache.get("one");
  },
);
Deno.bench(
  "custom serializer set (through it)",
  { ...single, group: "custom set", baseline: true },
  async () => {
    await customCache.set("one", value, ttl);
  },
);

Deno.bench("raw node-redis set PX", { ...single, group: "set", baseline: true }, async () => {
  await raw.set("r:one", value, { expiration: { type: "PX", value: ttl } });
});
Deno.bench("RedisCache.set", { ...single, group: "set" }, async () => {
  await cache.set("one", value, ttl);
});

Deno.bench(
  "raw node-redis MGET 100",
  { ...batch, group: "getMany(100)", baseline: true },
  async () => {
    await raw.mGet(rawKeys);
  },
);
Deno.bench("RedisCache.getMany 100", { ...batch, group: "getMany(100)" }, async () => {
  await cache.getMany(keys);
});
// 10 of 100 keys missing: MGET answers nil, and one more script asks their types
const someMissing = keys.map((key, i) => (i % 10 === 0 ? `missing:${i}` : key));
if (before) {
  Deno.bench("before: RedisCache.getMany 100", { ...batch, group: "getMany(100)" }, async () => {
    await before.getMany(keys);
  });
  Deno.bench(
    "before: getMany 100, 10 missing",
    { ...batch, group: "getMany(100), 10 missing", baseline: true },
    async () => {
      await before.getMany(someMissing);
    },
  );
}
Deno.bench(
  "RedisCache.getMany 100, 10 missing",
  { ...batch, group: "getMany(100), 10 missing" },
  async () => {
    await cache.getMany(someMissing);
  },
);

Deno.bench(
  "raw node-redis pipeline of 100 SET PX",
  { ...batch, group: "setMany(100) with ttl", baseline: true },
  async () => {
    const pipeline = raw.multi();
    for (const [key, v] of rawEntries) {
      pipeline.set(key, v, { expiration: { type: "PX", value: ttl } });
    }
    await pipeline.execAsPipeline();
  },
);
Deno.bench(
  "RedisCache.setMany 100 with ttl",
  { ...batch, group: "setMany(100) with ttl" },
  async () => {
    await cache.setMany(entries, ttl);
  },
);
