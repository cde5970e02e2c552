// What a node-redis client handed to RedisCache as `client` costs against the
// connection RedisCache opens itself, on one redis-server this file starts:
// one get at a time, and 200 concurrent gets. Rounds alternate the
// candidates call by call, so load on the machine hits them alike; each row is
// the median of its calls, in µs (per batch of 200 for the concurrent rows).
// "before" rows: RedisCache as of BEFORE (a timer per call on a given client, and
// node-redis's own per-command timer), loaded from git into a temp dir with its
// imports pointed at this checkout, on the same server in the same run.
//
//   deno run --allow-all bench/redis_client_overhead.ts
import { createClient } from "redis";
import { startServer } from "../tests/servers.ts";
import { loadRedisBefore } from "./_redis_before.ts";
import { RedisCache } from "../mod.ts";

const ROUNDS = 20;
const BEFORE = "e9950bc";

const Before = await loadRedisBefore(BEFORE);
const SINGLE = 500;
const CONCURRENT = 25;

const server = await startServer("redis");
try {
  const raw = createClient({ url: server.url });
  raw.on("error", () => {});
  await raw.connect();
  const given = createClient({ url: server.url });
  const own = new RedisCache({ url: server.url, keyPrefix: "b:" });
  const client = new RedisCache({ client: given, keyPrefix: "b:" });
  const givenBefore = createClient({ url: server.url });
  const before = Before && new Before({ client: givenBefore, keyPrefix: "b:" });
  await before?.get("one");
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
  if (before) {
    candidates["before: RedisCache.get, client given as client"] = [
      SINGLE,
      () => before.get("one"),
    ];
    candidates["before: RedisCache, client given as client, 200 concurrent gets"] = [
      CONCURRENT,
      () => Promise.all(keys.map((k) => before.get(k))),
    ];
  }
  // Candidates take turns call by call (batch by batch), so a load spike hits them alike;
  // each row is the median of its calls.
  const samples: Record<string, number[]> = {};
  for (const kind of [SINGLE, CONCURRENT]) {
    const runs = Object.entries(candidates).filter(([, [n]]) => n === kind);
    for (let i = 0; i < kind * ROUNDS; i++) {
      for (const [name, [, run]] of runs) {
        const start = performance.now();
        await run();
        (samples[name] ??= []).push((performance.now() - start) * 1000);
      }
    }
  }
  const median = (name: string) => {
    const values = samples[name]!.sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)]!;
  };
  console.log(
    `| candidate | median µs per call (${SINGLE * ROUNDS} / ${CONCURRENT * ROUNDS} calls) |`,
  );
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
  await before?.close();
  await givenBefore.close();
  await raw.close();
} finally {
  await server.stop();
}
