/**
 * `deno task demo`: a slow function becoming fast through the cache.
 *
 * `slowRate()` stands for any expensive call (an HTTP API, a database query):
 * it takes 100 ms. Twenty lookups over four currency pairs run once without a
 * cache and once through `cache.getOrSet()`; the second run calls the slow
 * function once per pair and answers the rest from memory.
 */
import { MemoryCache } from "../mod.ts";

const RATES: Record<string, number> = { EUR: 1.09, GBP: 1.27, JPY: 0.0067, CHF: 1.13 };
let slowCalls = 0;

async function slowRate(currency: string): Promise<number> {
  slowCalls++;
  await new Promise((resolve) => setTimeout(resolve, 100));
  return RATES[currency]!;
}

const lookups = Array.from({ length: 20 }, (_, i) => Object.keys(RATES)[i % 4]!);

async function run(label: string, rate: (currency: string) => Promise<number>) {
  slowCalls = 0;
  const start = performance.now();
  let total = 0;
  for (const currency of lookups) total += await rate(currency);
  const ms = performance.now() - start;
  console.log(
    `${label.padEnd(14)} ${lookups.length} lookups in ${ms.toFixed(0).padStart(5)} ms, ` +
      `${slowCalls} slow calls, sum ${total.toFixed(4)}`,
  );
  return ms;
}

await using cache = new MemoryCache({ maxEntries: 100, defaultTtl: 60_000 });

const uncached = await run("without cache", slowRate);
const cached = await run(
  "with cache",
  (currency) => cache.getOrSet(`rate:${currency}`, () => slowRate(currency)),
);
const { hits, misses, sets } = cache.stats();
console.log(`cache stats: ${hits} hits, ${misses} misses, ${sets} sets`);
console.log(`speed-up: ${(uncached / cached).toFixed(1)}x`);
