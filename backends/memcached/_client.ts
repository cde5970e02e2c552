/**
 * Loads `npm:memjs` and creates the client `MemcachedCache` sends its
 * binary-protocol requests through, turning every way that can fail into a
 * `CacheError` that says what is missing.
 *
 * @module
 */
import { CacheError } from "../../cache.ts";
import type { MemjsClient } from "./_binary.ts";

/**
 * The memjs the cache is tested with, as a full specifier: a bare `"memjs"`
 * resolves only under this repo's import map, so a project importing the
 * library by path or URL could not load it.
 */
export const MEMJS = "npm:memjs@1.3.2";

const ENV = [
  "MEMCACHIER_USERNAME",
  "MEMCACHE_USERNAME",
  "MEMCACHIER_PASSWORD",
  "MEMCACHE_PASSWORD",
];

/**
 * Creates a memjs client for `servers` whose sockets wait at most `timeout` ms.
 *
 * @throws {CacheError} memjs cannot be loaded, or cannot read the environment
 * variables it looks up for SASL credentials (no `--allow-env`).
 */
export async function createClient(servers: string[], timeout: number): Promise<MemjsClient> {
  let memjs: { Client: { create(servers: string, options: object): MemjsClient } };
  try {
    const mod = await import(MEMJS);
    memjs = mod.Client ? mod : mod.default;
  } catch (cause) {
    throw new CacheError(
      `Cannot use MemcachedCache: the client library ${MEMJS} cannot be loaded: ${
        (cause as Error).message
      }`,
      { cause },
    );
  }
  try {
    return memjs.Client.create(servers.join(","), {
      retries: 1,
      timeout: timeout / 1000,
      conntimeout: timeout / 1000,
      failover: false,
      logger: { log() {} },
    });
  } catch (cause) {
    const denied = cause instanceof Deno.errors.NotCapable ||
      cause instanceof Deno.errors.PermissionDenied;
    throw new CacheError(
      denied
        ? `Cannot use MemcachedCache: ${MEMJS} reads the environment variables ${
          ENV.join(", ")
        } (for SASL credentials); allow them with --allow-env=${ENV.join(",")}`
        : `Cannot use MemcachedCache: ${MEMJS} failed to create a client: ${
          (cause as Error).message
        }`,
      { cause },
    );
  }
}
