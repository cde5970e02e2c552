// `await MemoryCache.get` against lru-cache called inside an async function, robust to a
// loaded machine: each contender runs its own loop of LOOP awaited gets, contenders take
// turns for ROUNDS rounds, and each one's minimum and median ns per get are reported.
//
//   deno run --allow-all bench/architecture_rounds.ts
//   CACHELIB_BEFORE=/tmp/before deno run --allow-all bench/architecture_rounds.ts  (adds "before")
import { LRUCache } from "lru-cache";
import * as after from "../mod.ts";

const beforeDir = Deno.env.get("CACHELIB_BEFORE");
const before: typeof after | undefined = beforeDir
  ? await import(`file://${beforeDir}/mod.ts`)
  : undefined;
const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 15);
const LOOP = 200_000;
const N = 1000;
const keys = Array.from({ length: N }, (_, i) => `key:${i}`);

const lru = new LRUCache<string, number>({ max: N, ttl: 300_000 });
for (const [n, key] of keys.entries()) lru.set(key, n);
// deno-lint-ignore require-await
const lruAsync = async (key: string) => lru.get(key);

// Every contender gets its own loop, compiled from its own source text (`new Function`), so
// no call site inside a loop is shared between contenders: a shared loop makes the call
// polymorphic and measures the dispatch, not the contender.
type Loop = () => Promise<number>;
function ownLoop(call: string, target: unknown): Loop {
  return new Function(
    "target",
    "keys",
    `return async () => {
      const start = performance.now();
      for (let i = 0; i < ${LOOP}; i++) await ${call}(keys[i % ${N}]);
      return ((performance.now() - start) * 1e6) / ${LOOP};
    };`,
  )(target, keys);
}
const contenders: [string, Loop][] = [[
  "lru-cache get in an async fn",
  ownLoop("target", lruAsync),
]];
for (const policy of ["lru", "default"] as const) {
  for (const [name, lib] of Object.entries(before ? { after, before } : { after })) {
    const cache = new lib.MemoryCache(
      policy === "lru" ? { maxEntries: N, policy: "lru" } : { maxEntries: N },
    );
    for (const [n, key] of keys.entries()) await cache.set(key, n);
    contenders.push([`MemoryCache.get, policy ${policy} (${name})`, ownLoop("target.get", cache)]);
  }
}

const samples = contenders.map(() => [] as number[]);
for (const [, loop] of contenders) await loop(); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, [, loop]] of contenders.entries()) samples[i]!.push(await loop());
}
const base = samples[0]!.toSorted((a, b) => a - b);
console.log(`| contender | min ns | median ns | min / baseline min | median / baseline median |`);
console.log(`| --- | ---: | ---: | ---: | ---: |`);
for (const [i, [name]] of contenders.entries()) {
  const s = samples[i]!.toSorted((a, b) => a - b);
  const med = (x: number[]) => x[Math.floor(x.length / 2)]!;
  console.log(
    `| ${name} | ${s[0]!.toFixed(1)} | ${med(s).toFixed(1)} | ${(s[0]! / base[0]!).toFixed(2)} | ${
      (med(s) / med(base)).toFixed(2)
    } |`,
  );
}
