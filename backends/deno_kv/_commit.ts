/**
 * KV calls for {@linkcode DenoKvCache}: errors that name the operation and
 * key, commits that wait out a busy SQLite file, and batched commits that stay
 * within KV's limits.
 *
 * @module
 */
import { _opAndKey, CacheError, redactCredentials } from "../../cache.ts";
import { keySize, MAX_COMMIT_BYTES, MAX_MUTATIONS } from "./_layout.ts";

/** How often a write retries a conflict or a busy database before it gives up. */
export const MAX_ATTEMPTS = 100;
const BUSY = /database is locked|busy/i;

/** One KV mutation for a batched commit: a set when `value` is given, else a delete. */
export interface Mutation {
  key: Deno.KvKey;
  value?: Uint8Array;
  expireIn?: number | undefined;
}

/** KV's `set` options for an `expireIn` that may be absent. */
export function expiring(expireIn: number | undefined): { expireIn: number } | undefined {
  return expireIn === undefined ? undefined : { expireIn };
}

/** Waits a random time that grows with the attempt, up to 32 ms, so contenders spread out. */
export function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2 ** attempt, 32)));
}

/** Runs KV calls, turning a failure into a `CacheError` that names the operation and key. */
export async function call<T>(
  op: string,
  key: string | undefined,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (cause) {
    if (cause instanceof CacheError) throw cause;
    const message = redactCredentials(
      `Cannot ${_opAndKey(op, key)}: Deno KV failed: ${(cause as Error).message}`,
    );
    throw new CacheError(message, { cause, op, key });
  }
}

/**
 * Commits, retrying (bounded, with jittered backoff) while SQLite reports the
 * database busy: another process sharing a local KV file is writing.
 */
export async function commit(
  op: string,
  key: string | undefined,
  atomic: Deno.AtomicOperation,
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  for (let attempt = 1;; attempt++) {
    try {
      return await atomic.commit();
    } catch (cause) {
      if (!BUSY.test((cause as Error).message) || attempt >= MAX_ATTEMPTS) {
        return await call(op, key, () => Promise.reject(cause));
      }
    }
    await backoff(attempt);
  }
}

/** Commits mutations (no checks) in as many commits as KV's limits need (1000 mutations, ~800 KB). */
export async function commitAll(
  kv: Deno.Kv,
  op: string,
  key: string | undefined,
  mutations: Iterable<Mutation> | AsyncIterable<Mutation>,
): Promise<void> {
  let atomic = kv.atomic();
  let count = 0;
  let size = 0;
  const flush = async () => {
    if (count > 0) await commit(op, key, atomic);
    atomic = kv.atomic();
    count = 0;
    size = 0;
  };
  for await (const mutation of mutations) {
    const bytes = keySize(mutation.key) + (mutation.value?.length ?? 0);
    if (count + 1 > MAX_MUTATIONS || size + bytes > MAX_COMMIT_BYTES) await flush();
    if (mutation.value) atomic.set(mutation.key, mutation.value, expiring(mutation.expireIn));
    else atomic.delete(mutation.key);
    count++;
    size += bytes;
  }
  await flush();
}
