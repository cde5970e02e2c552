/**
 * The read and write paths of {@linkcode DenoKvCache}: one key's header (and
 * chunks) read with torn-read retries, and every single-key write as read,
 * decide, commit with a `check` on the header's versionstamp, retry.
 *
 * @module
 */
import { _describe, CacheError } from "../../cache.ts";
import {
  decodeHeader,
  encodeHeader,
  fromBlob,
  type Header,
  INLINE_MAX,
  join,
  keyPart,
  keySize,
  MAX_BLOB,
  MAX_COMMIT_BYTES,
  MAX_MUTATIONS,
  split,
  toBlob,
} from "./_layout.ts";
import {
  backoff,
  call,
  commit,
  commitAll,
  expiring,
  MAX_ATTEMPTS,
  type Mutation,
} from "./_commit.ts";

/** An open KV database with the cache's prefix and clock. */
export interface KvStore {
  readonly kv: Deno.Kv;
  readonly prefix: Deno.KvKey;
  readonly now: () => number;
}

/** What a read found under one key. */
export interface Current {
  versionstamp: string | null;
  header: Header | undefined;
  live: boolean;
  bytes?: Uint8Array;
  /** The chunk keys that exist under the header's chunk set, when the read listed them. */
  chunkKeys?: Deno.KvKey[];
}
/**
 * What a read must establish: the header only, liveness (key verified, chunks present),
 * or the value too.
 */
export type ReadMode = "header" | "verify" | "value";
/** What a write decided: nothing, remove the entry, or store bytes. */
export type Action = undefined | "delete" | { bytes: Uint8Array; expires: number };

const READ_ATTEMPTS = 5;

/**
 * The largest `expireIn` this cache gives KV, ~31 700 years. Local KV rejects
 * values above ~8.2e15 ("expireIn is too large"); `expireIn` only reclaims
 * storage (every read checks the exact expiry in the header), so a longer ttl
 * is capped here and still expires at its exact time.
 */
export const MAX_EXPIRE_IN = 1e15;

/**
 * KV's `expireIn` for an absolute expiry on the cache's clock: the remaining
 * time, at least 1 ms (KV rejects negative values) and at most
 * {@linkcode MAX_EXPIRE_IN}, `undefined` for never.
 */
export function expireInFor(store: KvStore, expires: number): number | undefined {
  if (expires === 0) return undefined;
  return Math.min(MAX_EXPIRE_IN, Math.max(1, Math.ceil(expires - store.now())));
}

/** Reads the header (and, per `mode`, the value) of one key, retrying a torn chunk read. */
export async function readEntry(
  store: KvStore,
  op: string,
  key: string,
  part: string | Uint8Array,
  mode: ReadMode,
): Promise<Current> {
  const hashed = typeof part !== "string";
  const headerKey = [...store.prefix, part];
  for (let attempt = 1;; attempt++) {
    const entry = await call(op, key, () => store.kv.get(headerKey));
    const header = decodeHeader(entry.value);
    const found: Current = { versionstamp: entry.versionstamp, header, live: false };
    if (!header || (header.expires !== 0 && header.expires <= store.now())) return found;
    // "verify" settles liveness: a hashed key's blob names its key, and a chunked value
    // is live only when its chunks are all there (a header alone is a broken entry, a miss).
    if (mode === "header" || (mode === "verify" && !hashed && !header.chunks)) {
      return { ...found, live: true };
    }
    let blob = header.inline;
    if (header.chunks) {
      const prefix = [...headerKey, header.chunks.id];
      // One more than the header names, so a surplus chunk shows without reading more.
      const limit = header.chunks.count + 1;
      const chunks = await call(
        op,
        key,
        () => Array.fromAsync(store.kv.list({ prefix }, { limit })),
      );
      found.chunkKeys = chunks.map((chunk) => chunk.key);
      blob = join(chunks, header.chunks);
      // A writer replaced the entry between the two reads: read the new header.
      if (!blob && attempt < READ_ATTEMPTS) continue;
    }
    const bytes = blob && fromBlob(key, hashed, blob);
    return bytes ? { ...found, live: true, bytes } : found;
  }
}

/**
 * The one write path: reads the key, lets `decide` choose, then commits the
 * choice with a `check` on the header's versionstamp, retrying (bounded) when
 * another writer got there first. A large value's chunks are written under a
 * fresh id, in the same commit as the header when they fit, else staged
 * before it; the old chunk set is deleted with the header swap.
 */
export async function writeEntry<R>(
  store: KvStore,
  op: string,
  key: string,
  mode: ReadMode,
  decide: (current: Current) => [R, Action] | Promise<[R, Action]>,
): Promise<R> {
  const kv = store.kv;
  const part = keyPart(key);
  const headerKey = [...store.prefix, part];
  let staged: { bytes: Uint8Array; id: string; keys: Deno.KvKey[] } | undefined;
  let committed = false;
  try {
    for (let attempt = 1;; attempt++) {
      const current = await readEntry(store, op, key, part, mode);
      let decided = decide(current);
      if (decided instanceof Promise) decided = await decided;
      const [result, action] = decided;
      if (action === undefined) return result;
      const atomic = kv.atomic().check({ key: headerKey, versionstamp: current.versionstamp });
      let count = 1;
      let size = keySize(headerKey);
      if (action === "delete") {
        atomic.delete(headerKey);
      } else {
        const blob = toBlob(key, typeof part !== "string", action.bytes);
        if (blob.length > MAX_BLOB) {
          throw new CacheError(
            `Cannot ${op} key ${
              _describe(key)
            }: the value is ${blob.length} bytes, over the ${MAX_BLOB} a Deno KV entry can hold`,
            { op, key },
          );
        }
        const expireIn = expireInFor(store, action.expires);
        if (blob.length <= INLINE_MAX) {
          atomic.set(headerKey, encodeHeader(action.expires, blob), expiring(expireIn));
          size += blob.length;
        } else {
          const id = staged?.bytes === action.bytes ? staged.id : crypto.randomUUID();
          const chunks = split(blob).map((value, i) => ({
            key: [...headerKey, id, i],
            value,
            expireIn,
          }));
          const bytes = chunks.reduce((sum, c) => sum + keySize(c.key) + c.value.length, 0);
          const fits = size + bytes <= MAX_COMMIT_BYTES && chunks.length < MAX_MUTATIONS;
          if (staged?.id !== id && fits) {
            for (const c of chunks) atomic.set(c.key, c.value, expiring(expireIn));
            count += chunks.length;
            size += bytes;
          } else if (staged?.id !== id) {
            // Too big for one commit: write the chunks first; no reader sees them
            // until the header that names their id is committed.
            await discard(kv, staged?.keys);
            staged = { bytes: action.bytes, id, keys: chunks.map((c) => c.key) };
            await commitAll(kv, op, key, chunks);
          }
          const body = { count: chunks.length, size: blob.length, id };
          atomic.set(headerKey, encodeHeader(action.expires, body), expiring(expireIn));
        }
      }
      // The old chunk set's keys as they exist (never by the header's count: a corrupt
      // header may claim chunks that were never written).
      const old = current.header?.chunks;
      const oldKeys = !old ? [] : current.chunkKeys ?? await call(op, key, async () => {
        const prefix = [...headerKey, old.id];
        const chunks = await Array.fromAsync(kv.list({ prefix }, { limit: old.count + 1 }));
        return chunks.map((chunk) => chunk.key);
      });
      const later: Mutation[] = [];
      for (const chunkKey of oldKeys) {
        if (count < MAX_MUTATIONS && size + keySize(chunkKey) < MAX_COMMIT_BYTES) {
          atomic.delete(chunkKey);
          count++;
          size += keySize(chunkKey);
        } else later.push({ key: chunkKey });
      }
      if ((await commit(op, key, atomic)).ok) {
        committed = true;
        // Unreferenced since the header swap: readers of the old header retry.
        await commitAll(kv, op, key, later);
        return result;
      }
      if (attempt >= MAX_ATTEMPTS) {
        throw new CacheError(
          `Cannot ${op} key ${
            _describe(key)
          }: gave up after ${attempt} attempts that conflicted with concurrent writes`,
          { op, key },
        );
      }
      await backoff(attempt);
    }
  } finally {
    if (!committed) await discard(kv, staged?.keys);
  }
}

/** Deletes staged chunks no header refers to (best effort: `expireIn` reclaims the rest). */
async function discard(kv: Deno.Kv, keys: Deno.KvKey[] | undefined): Promise<void> {
  if (!keys) return;
  await commitAll(kv, "discard", undefined, keys.map((key) => ({ key }))).catch(() => {});
}
