/**
 * DenoKvCache against raw `Deno.Kv` calls on the same temp-file database, in
 * the same run: what the cache layer (serializer, expiry header, key check,
 * versionstamp check) costs on top of KV itself.
 *
 * Run: deno bench --allow-all --unstable-kv bench/deno_kv_bench.ts
 */
import { DenoKvCache } from "../mod.ts";

const dir = Deno.makeTempDirSync({ prefix: "cachelib_kv_bench_" });
const kv = await Deno.openKv(`${dir}/kv.sqlite3`);
globalThis.addEventListener("unload", () => {
  kv.close();
  Deno.removeSync(dir, { recursive: true });
});
const cache = new DenoKvCache({ kv, prefix: ["bench"], defaultTtl: 0 });

const value = { id: 42, name: "Ada Lovelace", tags: ["math", "engines"], active: true };
const large = "x".repeat(200_000);
const keys = Array.from({ length: 100 }, (_, i) => `user:${i}`);
const rawKeys = keys.map((key) => ["raw", key]);
const entries = keys.map((key) => [key, value] as [string, unknown]);
await cache.setMany(entries);
for (const key of rawKeys) await kv.set(key, value);
await cache.set("large", large);
let n = 0;

Deno.bench("raw kv.get", { group: "get (hit, small object)", baseline: true }, async () => {
  await kv.get(rawKeys[n++ % 100]!);
});
Deno.bench("DenoKvCache.get", { group: "get (hit, small object)" }, async () => {
  await cache.get(keys[n++ % 100]!);
});

Deno.bench("raw kv.set", { group: "set (small object)", baseline: true }, async () => {
  await kv.set(rawKeys[n++ % 100]!, value);
});
Deno.bench("DenoKvCache.set", { group: "set (small object)" }, async () => {
  await cache.set(keys[n++ % 100]!, value);
});

Deno.bench("raw kv.getMany x10", { group: "getMany (100 keys)", baseline: true }, async () => {
  const batches = [];
  for (let i = 0; i < 100; i += 10) batches.push(kv.getMany(rawKeys.slice(i, i + 10)));
  await Promise.all(batches);
});
Deno.bench("DenoKvCache.getMany", { group: "getMany (100 keys)" }, async () => {
  await cache.getMany(keys);
});

Deno.bench("raw atomic, 100 sets", { group: "setMany (100 keys)", baseline: true }, async () => {
  const atomic = kv.atomic();
  for (const key of rawKeys) atomic.set(key, value);
  await atomic.commit();
});
Deno.bench("DenoKvCache.setMany", { group: "setMany (100 keys)" }, async () => {
  await cache.setMany(entries);
});

const largeBytes = new TextEncoder().encode(JSON.stringify(large));
const rawChunks = Array.from(
  { length: Math.ceil(largeBytes.length / 65_536) },
  (_, i) => largeBytes.subarray(i * 65_536, (i + 1) * 65_536),
);
for (const [i, chunk] of rawChunks.entries()) await kv.set(["rawlarge", i], chunk);
const rawLargeKeys = rawChunks.map((_, i) => ["rawlarge", i]);
Deno.bench(
  "raw kv.getMany of 4 chunks + join + JSON.parse",
  { group: "get (200 KB)", baseline: true },
  async () => {
    const parts = await kv.getMany<Uint8Array[]>(rawLargeKeys);
    const bytes = new Uint8Array(largeBytes.length);
    let at = 0;
    for (const part of parts) {
      bytes.set(part.value!, at);
      at += part.value!.length;
    }
    JSON.parse(new TextDecoder().decode(bytes));
  },
);
Deno.bench("DenoKvCache.get", { group: "get (200 KB)" }, async () => {
  await cache.get("large");
});
Deno.bench("raw atomic of 4 chunk sets", { group: "set (200 KB)", baseline: true }, async () => {
  const atomic = kv.atomic();
  rawChunks.forEach((chunk, i) => atomic.set(["rawlarge", i], chunk));
  await atomic.commit();
});
Deno.bench("DenoKvCache.set", { group: "set (200 KB)" }, async () => {
  await cache.set("large", large);
});
Deno.bench(
  "500 concurrent inc() of one key, one instance",
  { group: "inc contention", n: 5 },
  async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 500 }, () => cache.inc("contended")),
    );
    const failed = results.filter((result) => result.status === "rejected").length;
    if (failed > 0) throw new Error(`${failed} of 500 inc() calls failed`);
  },
);
