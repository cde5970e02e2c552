// How fast calls for a dead or hung memcached server fail once it is marked
// down, on a pool this file starts (3 servers, one killed, then one SIGSTOPped):
//   deno run --allow-all bench/memcached_failfast.ts
import { startMemcachedPool } from "../tests/cluster_servers.ts";
import { MemcachedCache } from "../mod.ts";
import { KetamaRing } from "../backends/memcached/_ring.ts";

await using pool = await startMemcachedPool(3);
const options = { servers: pool.addresses, timeout: 1000, downRetryDelay: 60_000 };
await using writer = new MemcachedCache(options);
const ring = new KetamaRing(pool.addresses);
const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
await writer.setMany(keys.map((k) => [k, 1] as const));
const victim = pool.servers[1]!;
const theirs = keys.filter((k) => ring.serverFor(k) === victim.address);

for (const fault of ["killed", "SIGSTOPped"] as const) {
  if (fault === "killed") await victim.kill();
  else await victim.restart();
  await using cache = new MemcachedCache(options);
  if (fault === "SIGSTOPped") victim.pause();
  let started = performance.now();
  await cache.get(theirs[0]!).catch(() => {});
  const first = performance.now() - started;
  const times: number[] = [];
  for (const key of theirs.slice(1, 61)) {
    started = performance.now();
    await cache.get(key).catch(() => {});
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  console.log(
    `${fault}: first call ${first.toFixed(1)} ms; next 60 calls: median ${
      (times[30]! * 1000).toFixed(0)
    } µs, max ${(times.at(-1)! * 1000).toFixed(0)} µs`,
  );
  if (fault === "SIGSTOPped") victim.resume();
}
