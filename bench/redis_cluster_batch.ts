// getMany(100) over a 3-master Redis Cluster, keys spread over all slots:
// the cluster layer (one MGET per slot, all sent at once; or one MGET that
// node-redis 6.3.1 splits by slot itself, its request policy for MGET) against
// node-redis's own cluster mGet and against 100 parallel GETs through node-redis.
// Candidates take turns call by call, so load on the machine hits them alike.
// Starts its own cluster on free loopback ports and stops it.
//
//   deno run --allow-all bench/redis_cluster_batch.ts
import { Buffer } from "node:buffer";
import { createCluster, RESP_TYPES } from "redis";
import { ClusterConnection } from "../backends/redis/_cluster.ts";
import { RedisCache } from "../backends/redis.ts";
import { startRedisCluster } from "../tests/cluster_servers.ts";

const ROUNDS = 5;
const ITERATIONS = 300;

await using cluster = await startRedisCluster({ masters: 3 });
const keys = Array.from({ length: 100 }, (_, i) => `bench:${i}`);
const conn = new ClusterConnection({ cluster: { rootNodes: cluster.rootNodes }, timeout: 5000 });
const raw = createCluster({ rootNodes: cluster.rootNodes }).withTypeMapping({
  [RESP_TYPES.BLOB_STRING]: Buffer,
});
await raw.connect();
await conn.pipeline("setMany", keys, keys, keys.map((k) => ["SET", k, "x".repeat(100)]));
const cache = new RedisCache({ cluster: { rootNodes: cluster.rootNodes } });
const given = createCluster({ rootNodes: cluster.rootNodes });
const givenCache = new RedisCache({ client: given });

const candidates: Record<string, () => Promise<unknown>> = {
  "cluster layer: MGET per slot": () => conn.perSlot("getMany", keys, (g) => ["MGET", ...g], true),
  "cluster layer: one MGET, node-redis 6.3.1 splits it by slot": () =>
    conn.call("getMany", undefined, keys[0], ["MGET", ...keys], (values) => values, true),
  "node-redis cluster.mGet(100 keys)": () => raw.mGet(keys),
  "node-redis 100 × cluster.get in parallel": () => Promise.all(keys.map((k) => raw.get(k))),
  "RedisCache.getMany(100) on the cluster (own client)": () => cache.getMany(keys),
  "RedisCache.getMany(100) on a createCluster client given as client": () =>
    givenCache.getMany(keys),
  "node-redis cluster.get (1 key)": () => raw.get(keys[5]!).then((v) => keys.map(() => v)),
  "RedisCache.get (1 key) on the cluster": () => cache.get(keys[5]!).then((v) => keys.map(() => v)),
};

// Check each answers with 100 values before timing it.
for (const [name, run] of Object.entries(candidates)) {
  try {
    const values = await run() as unknown[];
    if (values.length !== 100 || values.some((v) => v === null)) throw new Error("wrong values");
  } catch (error) {
    console.log(`${name}: fails (${(error as Error).message})`);
    delete candidates[name];
  }
}

// Candidates take turns call by call, so a load spike hits them alike; each row is the
// median of its calls.
const samples: Record<string, number[]> = {};
for (let i = 0; i < ROUNDS * ITERATIONS; i++) {
  for (const [name, run] of Object.entries(candidates)) {
    const start = performance.now();
    await run();
    (samples[name] ??= []).push((performance.now() - start) * 1000);
  }
}
console.log(`| getMany(100), 3 masters | median µs per call (${ROUNDS * ITERATIONS} calls each) |`);
console.log("| --- | --- |");
for (const [name, values] of Object.entries(samples)) {
  values.sort((a, b) => a - b);
  console.log(`| ${name} | ${values[Math.floor(values.length / 2)]!.toFixed(0)} |`);
}
await raw.close();
await conn.close();
await cache.close();
await givenCache.close();
await given.close();
