/**
 * A stampede lock across processes, built on the public {@linkcode Cache} API: concurrent
 * callers of one missing key, in any number of processes sharing one backend, share one
 * `produce()` call. `getOrSet(key, produce, { lock: "distributed" })` calls
 * {@linkcode produceOnce}.
 *
 * - **Taking the lock** is the backend's atomic `add` of a lock key holding a random token,
 *   with the lease as its ttl: Redis `SET NX PX`, memcached `add`, Deno KV's `check` of an
 *   absent entry, the filesystem's locked read-then-write. A lock whose holder crashed expires
 *   with its lease, so it blocks no one past it.
 * - **The lock key** of `key` is `"\u0000cachelib:lock\u0000" + key`. It lives in the same
 *   namespace (and under the same `keyPrefix`) as user keys, under cachelib's reserved prefix
 *   `"\u0000cachelib:"` (`RESERVED_PREFIX` in `_tags.ts`): `keys()` does not list it, and user
 *   keys that begin with that prefix are reserved; no other key can equal a lock key.
 * - **Waiters** poll `read()` with exponential backoff from 5 ms to 200 ms (each pause drawn
 *   from its upper half, so waiters that started together spread out), and try `add` again
 *   after each miss: a released or expired lock is taken by the next waiter, which reads once
 *   more before it produces (the previous holder may just have stored the value).
 * - **Releasing** deletes the lock key only if it still holds this caller's token. A backend
 *   with an atomic compare-and-delete offers it through an internal hook (the method
 *   `Symbol.for("cachelib.deleteIfEquals")`; RedisCache runs a Lua script). Elsewhere the
 *   release is get-compare-delete on the public API, done only while more than a margin
 *   (half the lease, at most 250 ms) of the lease is left, counted from before the `add` was
 *   sent. Another caller can hold
 *   the key only after the lease expired, so a release can delete someone else's lock only if
 *   its `get` and `delete` together stall longer than that margin; a holder past the margin
 *   leaves the lock to expire, which delays waiters by at most the margin. A holder whose
 *   `produce` throws releases at once, so a waiter takes over.
 *
 * @module
 */
import { _describe, type Cache, CacheTimeoutError, checkKey } from "../cache.ts";
import { RESERVED_PREFIX } from "./_tags.ts";

/** The first pause of a waiter, ms. */
const FIRST_PAUSE = 5;
/** The longest pause of a waiter, ms. */
const LONGEST_PAUSE = 200;
/** The most of the lease a holder keeps as margin before it no longer releases, ms. */
const RELEASE_MARGIN = 250;
/**
 * The optional backend hook for an atomic release: `cache[DELETE_IF_EQUALS](key, value)`
 * deletes `key` only while it holds `value`, in one server step (RedisCache: a Lua script).
 */
const DELETE_IF_EQUALS = Symbol.for("cachelib.deleteIfEquals");
/** What every lock key begins with. */
const LOCK_PREFIX = `${RESERVED_PREFIX}lock\u0000`;

/**
 * Runs `produce` once across every process that shares `cache`, for a `key` whose value is
 * missing: the caller that takes the lock produces (and `produce` stores the value); the
 * others wait until `read()` finds the value, or the lock is free for them to take.
 *
 * The producer itself is not timed here: the caller bounds it (its `hard` timeout) and should
 * give a `lease` longer than that, or a second process may produce once the lease expires.
 *
 * @param cache The shared cache; the lock key lives in it beside `key`.
 * @param key The key being produced (named in errors; the lock key is derived from it).
 * @param options `lease`: the lock's ttl in ms (> 0); `deadline`: the epoch-ms time after which
 * a waiter gives up; `signal`: aborts the wait (the producer observes it on its own).
 * @param read Reads the value; `undefined` while it is missing.
 * @param produce Produces the value, stores it and returns it.
 * @returns The value: produced by this caller, or read after another produced it.
 * @throws {CacheTimeoutError} The deadline passed while another caller held the lock.
 * @throws {RangeError} A lease that is not a finite number > 0, or a deadline that is not finite.
 *
 * @example Two callers, one produce
 * ```ts
 * import { MemoryCache } from "@cachelib/cachelib";
 * import { produceOnce } from "./_lock.ts";
 * import assert from "node:assert/strict";
 *
 * await using cache = new MemoryCache();
 * let runs = 0;
 * const once = () =>
 *   produceOnce(
 *     cache,
 *     "report",
 *     { lease: 5_000, deadline: Date.now() + 5_000 },
 *     () => cache.get<string>("report"),
 *     async () => {
 *       runs++;
 *       await cache.set("report", "ready");
 *       return "ready";
 *     },
 *   );
 * assert.deepEqual(await Promise.all([once(), once()]), ["ready", "ready"]);
 * assert.equal(runs, 1);
 * ```
 */
export async function produceOnce<T>(
  cache: Cache,
  key: string,
  options: { lease: number; deadline: number; signal?: AbortSignal },
  read: () => Promise<T | undefined>,
  produce: () => Promise<T>,
): Promise<T> {
  checkKey("getOrSet", key);
  const { lease, deadline, signal } = options;
  if (typeof lease !== "number" || !(lease > 0) || lease === Infinity) {
    throw new RangeError(
      `Cannot getOrSet key ${_describe(key)}: lock lease must be a finite number of ms > 0, ` +
        `received ${_describe(lease)}`,
    );
  }
  if (typeof deadline !== "number" || !Number.isFinite(deadline)) {
    throw new RangeError(
      `Cannot getOrSet key ${_describe(key)}: deadline must be a finite epoch time in ms, ` +
        `received ${_describe(deadline)}`,
    );
  }
  signal?.throwIfAborted();
  const lockKey = LOCK_PREFIX + key;
  const token = crypto.randomUUID();
  let pause = FIRST_PAUSE;
  for (;;) {
    const takenAt = Date.now();
    if (await cache.add(lockKey, token, lease)) {
      return await hold(
        cache,
        lockKey,
        token,
        takenAt + lease - Math.min(lease / 2, RELEASE_MARGIN),
        read,
        produce,
      );
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new CacheTimeoutError(
        `Cannot getOrSet key ${_describe(key)}: the deadline passed while another caller ` +
          `held the lock to produce it (lease ${lease} ms)`,
        { op: "getOrSet", key },
      );
    }
    await sleep(Math.min(pause / 2 + Math.random() * (pause / 2), left), signal);
    pause = Math.min(pause * 2, LONGEST_PAUSE);
    const value = await read();
    if (value !== undefined) return value;
    signal?.throwIfAborted();
  }
}

/** Produces under the lock (after one more read) and releases it, whatever happens. */
async function hold<T>(
  cache: Cache,
  lockKey: string,
  token: string,
  releaseBy: number,
  read: () => Promise<T | undefined>,
  produce: () => Promise<T>,
): Promise<T> {
  try {
    const value = await read();
    return value !== undefined ? value : await produce();
  } finally {
    // A failed release only leaves the lock to its lease: the value (or produce's error) wins.
    await release(cache, lockKey, token, releaseBy).catch(() => {});
  }
}

/**
 * Deletes the lock if it is still this caller's: atomically where the backend has the hook,
 * else by get-compare-delete while enough of the lease is left.
 */
async function release(
  cache: Cache,
  lockKey: string,
  token: string,
  releaseBy: number,
): Promise<void> {
  const native = (cache as { [DELETE_IF_EQUALS]?: unknown })[DELETE_IF_EQUALS];
  if (typeof native === "function") {
    await (native as (key: string, value: string) => Promise<boolean>).call(cache, lockKey, token);
    return;
  }
  if (Date.now() >= releaseBy) return;
  if ((await cache.get(lockKey)) !== token || Date.now() >= releaseBy) return;
  await cache.delete(lockKey);
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
