/**
 * A `Deno.serve` handler that caches an expensive answer, ready for Deno
 * Deploy: it uses Deno KV (shared by every isolate of a deployment) where
 * `Deno.openKv` exists, and an in-process `MemoryCache` elsewhere.
 *
 * Run it locally, then ask twice and watch `x-cache` turn from MISS to HIT:
 *
 * ```sh
 * deno run --allow-net --unstable-kv examples/deploy_handler.ts
 * curl -i "http://localhost:8000/primes?below=5000000"
 * ```
 *
 * @module
 */
import { type Cache, DenoKvCache, MemoryCache } from "../mod.ts";

/** The cache for this deployment: Deno KV when available, else memory. */
export function makeCache(): Cache {
  return typeof Deno.openKv === "function"
    ? new DenoKvCache({ prefix: ["deploy-example"], defaultTtl: 10 * 60_000 })
    : new MemoryCache({ maxEntries: 1000, defaultTtl: 10 * 60_000 });
}

/** The expensive part: how many primes are below `n` (a sieve, O(n log log n)). */
export function countPrimes(n: number): number {
  const composite = new Uint8Array(n);
  let count = 0;
  for (let i = 2; i < n; i++) {
    if (composite[i]) continue;
    count++;
    for (let j = i * i; j < n; j += i) composite[j] = 1;
  }
  return count;
}

const MAX = 50_000_000;

/**
 * Makes the request handler: `GET /primes?below=N` answers
 * `{ below, primes }`, computed once per `N` and then served from `cache`
 * (`x-cache: HIT` or `MISS`); `GET /stats` shows the cache's counters.
 */
export function createHandler(cache: Cache): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    if (request.method !== "GET") return new Response("Method not allowed\n", { status: 405 });
    if (url.pathname === "/stats") return Response.json(cache.stats());
    if (url.pathname !== "/primes") return new Response("Not found\n", { status: 404 });
    const raw = url.searchParams.get("below") ?? "";
    const below = Number(raw);
    if (!/^[0-9]+$/.test(raw) || below > MAX) {
      return new Response(`below must be an integer from 0 to ${MAX}\n`, { status: 400 });
    }
    let computed = false;
    const primes = await cache.getOrSet(`primes:${below}`, () => {
      computed = true;
      return countPrimes(below);
    });
    return Response.json({ below, primes }, {
      headers: { "x-cache": computed ? "MISS" : "HIT" },
    });
  };
}

if (import.meta.main) {
  const cache = makeCache();
  const server = Deno.serve(createHandler(cache));
  Deno.addSignalListener("SIGINT", async () => {
    await server.shutdown();
    await cache.close();
    Deno.exit(0);
  });
}
