// `await MemoryCache.get` against lru-cache called inside an async function, robust to a
// loaded machine: each contender runs its own loop of LOOP awaited gets, contenders take
// turns for ROUNDS rounds, and each one's minimum and median ns per get are reported.
//
//   deno run --allow-all bench/architecture_rounds.ts
//   CACHELIB_BEFORE=/tmp/before deno run --allow-all bench/architecture_rounds.ts  (adds "before")
import { LRUCache } from "lru-cache";
import * as after from "../mod.ts";
import { keys, type Loop, N, ownLoop, runRounds } from "./_rounds.ts";

const beforeDir = Deno.env.get("CACHELIB_BEFORE");
const before: typeof after | undefined = beforeDir
  ? await import(`file://${beforeDir}/mod.ts`)
  : undefined;
const lru = new LRUCache<string, number>({ max: N, ttl: 300_000 });
for (const [n, key] of keys.entries()) lru.set(key, n);
// deno-lint-ignore require-await
const lruAsync = async (key: string) => lru.get(key);

const contenders: [string, Loop][] = [[
  "lru-cache get in an async fn",
  ownLoop("target(keys[i % 1000])", lruAsync),
]];
for (const policy of ["lru", "default"] as const) {
  for (const [name, lib] of Object.entries(before ? { after, before } : { after })) {
    const cache = new lib.MemoryCache(
      policy === "lru" ? { maxEntries: N, policy: "lru" } : { maxEntries: N },
    );
    for (const [n, key] of keys.entries()) await cache.set(key, n);
    contenders.push([
      `MemoryCache.get, policy ${policy} (${name})`,
      ownLoop("target.get(keys[i % 1000])", cache),
    ]);
  }
}

await runRounds(contenders);
