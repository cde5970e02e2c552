// The default policy's hit path and evicting set against npm:lru-cache at one size (issue 14),
// one size per process so the store's calls into its policy stay monomorphic, as in an
// application that uses one policy:
//   for n in 1000 10000 100000 1000000; do deno run --allow-all bench/default_policy_bench.ts $n; done
// Keys are read in a seeded random order; every key string is hashed once into a Map before
// timing (V8 caches a string's hash: the first insertion of a new key string costs ~350 ns,
// whoever pays it). Evicting sets write keys the cache does not hold, in order, cycling over
// 2 × n of them. Each figure is the best of 7 rounds of 10^6 calls (the machine is shared: the
// minimum is the steadiest comparison), lru-cache and MemoryStore rounds interleaved.
// A round is timed in CPU time of this process (user + system, `process.cpuUsage`), not wall
// time: on an oversubscribed machine (load 10–20 on 2 cores) wall time mostly measures how long
// the process waited for a core. CLOCK=wall times by the wall clock instead. POLICY=lru (or any
// policy name) runs MemoryStore with that policy instead of the default. MINIS=off keeps the
// default but samples one request in 512 into 2-entry miniatures (their cost out of the way), to
// see what the W-TinyLFU main cache alone costs. TUNING='{"restMax":6}' sets constants of the
// adaptive policy (`_tuning` in policies/adaptive.ts).
import process from "node:process";
import { LRUCache } from "lru-cache";
import { MemoryStore } from "../mod.ts";
import { _tuning } from "../policies/adaptive.ts";

const wall = Deno.env.get("CLOCK") === "wall";
if (Deno.env.get("MINIS") === "off") _tuning.miniMin = _tuning.miniMax = 1;
Object.assign(_tuning, JSON.parse(Deno.env.get("TUNING") ?? "{}"));
/** Milliseconds of this process's CPU time (or the wall clock with CLOCK=wall). */
const clock = (): number => {
  if (wall) return performance.now();
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

const n = Number(Deno.args[0] ?? 1000);
const held = Array.from({ length: n }, (_, i) => `key:${i}`);
const incoming = Array.from({ length: Math.max(2 * n, 100_000) }, (_, i) => `new:${i}`);
const warm = new Map<string, number>();
for (const key of held) warm.set(key, 0);
for (const key of incoming) warm.set(key, 0);
let state = 12345;
const order = new Int32Array(1 << 20).map(() => {
  state = (Math.imul(state, 1103515245) + 12345) | 0;
  return (state >>> 8) % n;
});

type Cache = { get(key: string): unknown; set(key: string, value: number): unknown };
const make = (kind: string, ttl: boolean): Cache => {
  const cache: Cache = kind === "lru-cache"
    ? new LRUCache<string, number>(ttl ? { max: n, ttl: 300_000 } : { max: n })
    : new MemoryStore({
      maxEntries: n,
      clone: false,
      ...(ttl ? {} : { defaultTtl: 0 }),
      ...(Deno.env.get("POLICY") ? { policy: Deno.env.get("POLICY") as "lru" } : {}),
    });
  held.forEach((key, i) => cache.set(key, i));
  return cache;
};

const CALLS = 1_000_000;
let sink = 0;
function getRound(cache: Cache, from: number): number {
  const started = clock();
  for (let i = 0; i < CALLS; i++) {
    if (cache.get(held[order[(from + i) & 0xfffff]!]!) !== undefined) sink++;
  }
  return ((clock() - started) * 1e6) / CALLS;
}
let written = 0;
function setRound(cache: Cache): number {
  const started = clock();
  for (let i = 0; i < CALLS; i++) cache.set(incoming[written++ % incoming.length]!, i);
  return ((clock() - started) * 1e6) / CALLS;
}

const rows: string[] = [];
for (const ttl of [false, true]) {
  const lru = make("lru-cache", ttl), ours = make("MemoryStore", ttl);
  const lruSet = make("lru-cache", ttl), oursSet = make("MemoryStore", ttl);
  const best = { lruGet: Infinity, oursGet: Infinity, lruSet: Infinity, oursSet: Infinity };
  for (let round = 0; round < 7; round++) {
    best.lruGet = Math.min(best.lruGet, getRound(lru, round * CALLS));
    best.oursGet = Math.min(best.oursGet, getRound(ours, round * CALLS));
    best.lruSet = Math.min(best.lruSet, setRound(lruSet));
    best.oursSet = Math.min(best.oursSet, setRound(oursSet));
  }
  const label = `${n.toLocaleString("en-US")}${ttl ? ", ttl" : ""}`;
  rows.push(
    `| ${label} | get hit | ${best.lruGet.toFixed(1)} ns | ${best.oursGet.toFixed(1)} ns | ${
      (best.oursGet / best.lruGet).toFixed(2)
    }× |`,
    `| ${label} | evicting set | ${best.lruSet.toFixed(1)} ns | ${best.oursSet.toFixed(1)} ns | ${
      (best.oursSet / best.lruSet).toFixed(2)
    }× |`,
  );
}
console.log(rows.join("\n"));
if (sink < 0) console.log(sink);
