// What a node-redis client handed to RedisCache as `client` costs against the
// connection RedisCache opens itself, on one redis-server this file starts:
// one get at a time, and 200 concurrent gets. Rounds alternate the
// candidates, so load on the machine hits them alike; each row is the median
// of the rounds, in µs per call (per batch of 200 for the concurrent rows).
//
//   deno run --allow-all bench/redis_client_overhead.ts
import { createClient } from "redis";
import { startServer } from "../tests/servers.ts";
import { RedisCache } from "../mod.ts";

const ROUNDS = 9;
const SINGLE = 2000;
const CONCURRENT = 100;

const server = await startServer("redis");
try {
  const raw = createClient({ url: server.url });
  raw.on("error", () => {});
  await raw.connect();
  const given = createClient({ url: server.url });
  const own = new RedisCache({ url: server.url, keyPrefix: "b:" });
  const client = new RedisCache({ client: given, keyPrefix: "b:" });
  await own.set("one", "a short value of about forty bytes......");
  const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
  await own.setMany(keys.map((k): [string, string] => [k, k]));
  await client.get("one");

  const candidates: Record<string, [number, () => Promise<unknown>]> = {
    "raw node-redis get": [SINGLE, () => raw.get("b:one")],
    "RedisCache.get, own connection": [SINGLE, () => own.get("one")],
    "RedisCache.get, client given as client": [SINGLE, () => client.get("one")],
    "raw node-redis, 200 concurrent gets": [
      CONCURRENT,
      () => Promise.all(keys.map((k) => raw.get(`b:${k}`))),
    ],
    "RedisCache, own connection, 200 concurrent gets": [
      CONCURRENT,
      () => Promise.all(keys.map((k) => own.get(k))),
    ],
    "RedisCache, client given as client, 200 concurrent gets": [
      CONCURRENT,
      () => Promise.all(keys.map((k) => client.get(k))),
    ],
  };
  const samples: Record<string, number[]> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, [n, run]] of Object.entries(candidates)) {
      const start = performance.now();
      for (let i = 0; i < n; i++) await run();
      (samples[name] ??= []).push((performance.now() - start) * 1000 / n);
    }
  }
  const median = (name: string) => {
    const values = samples[name]!.sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)]!;
  };
  console.log(`| candidate | median µs per call (${ROUNDS} rounds) |`);
  console.log("| --- | --- |");
  for (const name of Object.keys(samples)) console.log(`| ${name} | ${median(name).toFixed(1)} |`);
  console.log(
    `given/own: single ${
      (median("RedisCache.get, client given as client") /
        median("RedisCache.get, own connection")).toFixed(2)
    }×, 200 concurrent ${
      (median("RedisCache, client given as client, 200 concurrent gets") /
        median("RedisCache, own connection, 200 concurrent gets")).toFixed(2)
    }×`,
  );
  await own.close();
  await client.close();
  await given.close();
  await raw.close();
} finally {
  await server.stop();
}
