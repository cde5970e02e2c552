/**
 * The servers of a `MemcachedCache`: which one holds a key (a ketama ring, or
 * memjs's `hash % n`), and which ones are marked down (a circuit breaker per
 * server, so a dead or hung server costs one failure, not a timeout per call).
 *
 * @module
 */
import { _opAndKey, CacheConnectionError } from "../../cache.ts";
import type { MemjsClient } from "./_binary.ts";
import type { MemcachedDistribution } from "./_options.ts";
import { KetamaRing } from "./_ring.ts";

/** The longest wait between two probes of a server marked down, unless `downRetryDelay` is longer. */
export const MAX_RETRY_DELAY = 30_000;

/** A server's breaker: up, or down until `retryAt` (then one call goes through as a probe). */
interface Health {
  down: boolean;
  /** When the next probe may go (`performance.now()`). */
  retryAt: number;
  /** The current wait between probes. */
  delay: number;
  probing: boolean;
  /** The failure that marked it down, for the fail-fast message. */
  reason: string;
  /** Settles a call that got an answer. */
  answered: (value: unknown) => unknown;
  /** Settles a call that failed (rethrows). */
  failed: (error: unknown) => never;
}

/**
 * Routing and health of the servers. Keys are routed by the key as sent
 * without the cache's prefix and generation, so `clear()` (a new generation)
 * never moves a key to another server.
 */
export class ServerPool {
  /** `"host:port"` of each server, in the order given. */
  readonly addresses: readonly string[];
  #ring: KetamaRing | undefined;
  #health: Health[];
  #retryDelay: number;

  /**
   * @param addresses `"host:port"` of each server.
   * @param weights The ring weight of each server.
   * @param distribution `"ketama"` (a libmemcached-compatible ring) or
   * `"modulo"` (memjs's `client.getServer`, `hash % n`).
   * @param retryDelay ms a server stays marked down before a probe; 0: no breaker.
   */
  constructor(
    addresses: readonly string[],
    weights: readonly number[],
    distribution: MemcachedDistribution,
    retryDelay: number,
  ) {
    this.addresses = addresses;
    this.#ring = distribution === "ketama" && addresses.length > 1
      ? new KetamaRing(addresses.map((address, i) => ({ address, weight: weights[i]! })))
      : undefined;
    this.#retryDelay = retryDelay;
    this.#health = addresses.map(() => this.#newHealth());
  }

  /**
   * The index of the server that holds `routeKey` (the key as sent, without
   * prefix and generation).
   */
  indexFor(client: MemjsClient, routeKey: string): number {
    if (this.addresses.length === 1) return 0;
    return this.#ring ? this.#ring.indexFor(routeKey) : client.getServer(routeKey);
  }

  /**
   * Groups batch positions by server: `[index, positions]` pairs, in order of
   * each server's first key; `positions` is `undefined` when there is one
   * server (it holds the whole batch, in order).
   */
  group(client: MemjsClient, routeKeys: readonly string[]): [number, number[] | undefined][] {
    if (this.addresses.length === 1) return [[0, undefined]];
    const groups = new Map<number, number[]>();
    routeKeys.forEach((key, p) => {
      const index = this.indexFor(client, key);
      const positions = groups.get(index);
      if (positions) positions.push(p);
      else groups.set(index, [p]);
    });
    return [...groups];
  }

  /**
   * Runs `request` against server `index` through its breaker. While the
   * server is marked down, the call fails at once with a
   * `CacheConnectionError` naming it; once `retryAt` has passed, one call is
   * let through as the probe (the others still fail fast): its success marks
   * the server up, its connection failure marks it down again for twice the
   * delay (at most {@linkcode MAX_RETRY_DELAY}, or `downRetryDelay` if longer).
   * Only connection failures (refused, dropped, no answer in time) count; a
   * server that answers, even with an error status, is up.
   *
   * @param op The operation and `key` the caller's key (if one), for the fail-fast message.
   */
  guard<T>(
    index: number,
    op: string,
    key: string | undefined,
    request: () => Promise<T>,
  ): Promise<T> {
    if (this.#retryDelay === 0) return request();
    const health = this.#health[index]!;
    if (!health.down) return request().then(health.answered, health.failed) as Promise<T>;
    const now = performance.now();
    if (health.probing || now < health.retryAt) {
      const wait = health.probing
        ? "a probe is under way"
        : `next probe in ${Math.ceil(health.retryAt - now)} ms`;
      const what = _opAndKey(op, key);
      return Promise.reject(
        new CacheConnectionError(
          `Cannot ${what}: memcached at ${
            this.addresses[index]
          } is marked down after a failure (${health.reason}); ${wait}`,
        ),
      );
    }
    health.probing = true;
    health.delay = Math.min(health.delay * 2, Math.max(this.#retryDelay, MAX_RETRY_DELAY));
    const probe = request().then(health.answered, health.failed) as Promise<T>;
    probe.then(() => health.probing = false, () => health.probing = false);
    return probe;
  }

  /** A server's breaker, with its two settle handlers made once (none per call). */
  #newHealth(): Health {
    const initial = this.#retryDelay;
    const health: Health = {
      down: false,
      retryAt: 0,
      delay: initial,
      probing: false,
      reason: "",
      answered: (value) => {
        if (health.down) {
          health.down = false;
          health.delay = initial;
        }
        return value;
      },
      failed: (error) => {
        if (error instanceof CacheConnectionError) {
          // A probe already doubled `delay`; a first failure waits `downRetryDelay`.
          if (!health.down && !health.probing) health.delay = initial;
          health.down = true;
          health.retryAt = performance.now() + health.delay;
          health.reason = reasonOf(error.message);
        } else if (health.down) {
          health.down = false; // it answered
          health.delay = initial;
        }
        throw error;
      },
    };
    return health;
  }
}

/** The part of a failure message after the server's address ("failed: …", "did not answer …"). */
function reasonOf(message: string): string {
  const at = message.indexOf("memcached at ");
  if (at < 0) return message;
  const rest = message.slice(at + "memcached at ".length);
  const space = rest.indexOf(" ");
  return space < 0 ? rest : rest.slice(space + 1);
}
