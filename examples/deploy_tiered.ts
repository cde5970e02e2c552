/**
 * A `Deno.serve` handler for Deno Deploy with a two-tier cache: each isolate keeps a hot
 * in-memory copy (L1) in front of Deno KV (L2, shared by every isolate of the deployment), and a
 * `BroadcastChannel` (which on Deploy reaches every isolate of the deployment) evicts a written
 * key from every other isolate's L1.
 *
 * ```sh
 * deno run --allow-net --unstable-kv examples/deploy_tiered.ts
 * curl -X PUT --data 'Ada' http://localhost:8000/items/1
 * curl http://localhost:8000/items/1
 * ```
 *
 * @module
 */
import { BroadcastChannelBus, DenoKvCache, MemoryCache, TieredCache } from "../mod.ts";

/** The cache of one isolate; `path` is for local runs and tests (Deploy uses its own KV). */
export function makeTieredCache(path?: string): TieredCache {
  return new TieredCache({
    l1: new MemoryCache({ maxEntries: 10_000 }),
    l2: new DenoKvCache({ path, prefix: ["deploy-tiered"], defaultTtl: 60 * 60_000 }),
    bus: new BroadcastChannelBus("deploy-tiered"),
    l1MaxTtl: 30_000, // a lost message can leave a stale copy for at most 30 s
  });
}

/**
 * Makes the request handler: `PUT /items/:id` stores the body, `GET /items/:id` answers it (404
 * when missing), `DELETE /items/:id` removes it, `GET /stats` gives the cache's counters.
 *
 * @param cache The cache; closing it is the caller's job.
 * @returns The handler for `Deno.serve`.
 */
export function createHandler(cache: TieredCache): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/stats") return Response.json(cache.stats());
    const match = url.pathname.match(/^\/items\/([^/]+)$/);
    if (match === null) return new Response("not found", { status: 404 });
    const key = `item:${decodeURIComponent(match[1]!)}`;
    switch (request.method) {
      case "GET": {
        const value = await cache.get<string>(key);
        return value === undefined
          ? new Response("no such item", { status: 404 })
          : new Response(value);
      }
      case "PUT":
        await cache.set(key, await request.text());
        return new Response(null, { status: 204 });
      case "DELETE":
        return new Response(null, { status: (await cache.delete(key)) ? 204 : 404 });
      default:
        return new Response("method not allowed", { status: 405 });
    }
  };
}

if (import.meta.main) {
  const cache = makeTieredCache();
  const server = Deno.serve(createHandler(cache));
  Deno.addSignalListener("SIGINT", async () => {
    await server.shutdown();
    await cache.close();
    Deno.exit(0);
  });
}
