// What getOrSet's production options cost on the hit path, in architecture_rounds.ts's style:
// each contender runs its own loop of LOOP awaited calls (compiled from its own source, so no
// call site is shared), contenders take turns for ROUNDS rounds, and each one's minimum and
// median ns per call are reported, against `MemoryCache.get` of plain values.
//
//   deno run --allow-all bench/production_rounds.ts
//   CACHELIB_BEFORE=/tmp/before deno run --allow-all bench/production_rounds.ts  (adds "before")
//   (before: `git archive <commit> | tar -x -C /tmp/before`)
import * as after from "../mod.ts";
import { keys, type Loop, N, ownLoop, runRounds } from "./_rounds.ts";

const beforeDir = Deno.env.get("CACHELIB_BEFORE");
const before: typeof after | undefined = beforeDir
  ? await import(`file://${beforeDir}/mod.ts`)
  : undefined;
const contenders: [string, Loop][] = [];
const user = (n: number) => ({ id: n, name: `user ${n}` });
// BEFORE_FIRST=1 runs "before" first in each round, to see the order's bias.
const trees = before
  ? (Deno.env.get("BEFORE_FIRST") ? { before, after } : { after, before })
  : { after };
for (const [name, lib] of Object.entries(trees)) {
  const numbers = new lib.MemoryCache({ maxEntries: 4 * N, policy: "lru" });
  for (const [n, key] of keys.entries()) await numbers.set(key, n);
  contenders.push([
    `MemoryCache.get, numbers (${name})`,
    ownLoop("target.get(keys[i % 1000])", numbers),
  ]);
  const objects = new lib.MemoryCache({ maxEntries: 4 * N, policy: "lru" });
  for (const [n, key] of keys.entries()) await objects.set(key, user(n));
  contenders.push([
    `MemoryCache.get, objects (${name})`,
    ownLoop("target.get(keys[i % 1000])", objects),
  ]);
  contenders.push([
    `getOrSet(key, produce, 300_000) hit, objects (${name})`,
    ownLoop("target.getOrSet(keys[i % 1000], extra, 300000)", objects, () => user(-1)),
  ]);
}
{
  // Entries written by getOrSet with SWR: fresh ones, and (clock moved) stale ones whose
  // refresh never settles, so every call is a stale hit with the key's one refresh in flight.
  const swr = { ttl: 1000, staleWhileRevalidate: 3_600_000 };
  const produce = () => user(-1);
  const fresh = new after.MemoryCache({ maxEntries: 4 * N, policy: "lru", now: () => 1_000_000 });
  for (const [n, key] of keys.entries()) await fresh.getOrSet(key, () => user(n), swr);
  contenders.push([
    "MemoryCache.get, objects in fresh getOrSet envelopes (after)",
    ownLoop("target.get(keys[i % 1000])", fresh),
  ]);
  contenders.push([
    "getOrSet SWR options, fresh hit, objects (after)",
    ownLoop("target.getOrSet(keys[i % 1000], extra.produce, extra.swr)", fresh, { produce, swr }),
  ]);
  const clock = { t: 1_000_000 };
  const stale = new after.MemoryCache({ maxEntries: 4 * N, policy: "lru", now: () => clock.t });
  for (const [n, key] of keys.entries()) await stale.getOrSet(key, () => user(n), swr);
  clock.t += 2000;
  const never = () => new Promise<never>(() => {});
  contenders.push([
    "getOrSet SWR options, stale hit, refresh in flight, objects (after)",
    ownLoop("target.getOrSet(keys[i % 1000], extra.never, extra.swr)", stale, { never, swr }),
  ]);
}

await runRounds(contenders);
Deno.exit(0); // the never-settling refreshes hold nothing open, but say so explicitly
