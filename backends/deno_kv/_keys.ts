/**
 * `DenoKvCache.keys()`: the cache keys under the cache's prefix, read back from the layout
 * of `_layout.ts` (a direct key is its own KV key part; a hashed key is recovered from the
 * start of its blob and checked against its hash).
 *
 * @module
 */
import { decodeHeader, join, keyPart } from "./_layout.ts";
import { call } from "./_commit.ts";
import type { KvStore } from "./_entries.ts";

/**
 * The key a hashed entry's blob starts with (u32 length + UTF-16LE code units), or
 * `undefined` when the blob is too short to hold one.
 */
export function keyOfBlob(blob: Uint8Array): string | undefined {
  if (blob.length < 4) return undefined;
  const units = new DataView(blob.buffer, blob.byteOffset).getUint32(0, true);
  if (blob.length < 4 + units * 2) return undefined;
  let key = "";
  for (let i = 0; i < units; i++) {
    key += String.fromCharCode(blob[4 + 2 * i]! | (blob[5 + 2 * i]! << 8));
  }
  return key;
}

/** Whether two key parts are the same (a string, or the bytes of a hash). */
function samePart(a: string | Uint8Array, b: unknown): boolean {
  if (typeof a === "string" || !(b instanceof Uint8Array)) return a === b;
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/**
 * Yields the live cache keys under `store.prefix` that start with `prefix`: one KV `list`
 * of the prefix, skipping chunk keys (deeper than a header), other caches' entries under a
 * longer prefix, expired headers and anything the layout did not write. A hashed key is
 * read from its blob (its chunks, when chunked) and yielded only when it hashes back to the
 * part it is stored under. Each step is one KV call, its failure a `CacheError`.
 */
export async function* listKeys(store: KvStore, prefix: string): AsyncGenerator<string> {
  const depth = store.prefix.length + 1;
  const entries = store.kv.list({ prefix: store.prefix }, { batchSize: 500 });
  for (;;) {
    const next = await call("keys", undefined, () => entries.next());
    if (next.done) return;
    const entry = next.value;
    if (entry.key.length !== depth) continue; // a chunk, or another cache's entry
    const part = entry.key[depth - 1];
    const header = decodeHeader(entry.value);
    if (!header || (header.expires !== 0 && header.expires <= store.now())) continue;
    if (typeof part === "string") {
      if (part.startsWith(prefix)) yield part;
      continue;
    }
    if (!(part instanceof Uint8Array)) continue;
    let blob = header.inline;
    if (header.chunks) {
      const chunks = await call("keys", undefined, () =>
        Array.fromAsync(
          store.kv.list({ prefix: [...entry.key, header.chunks!.id] }, {
            limit: header.chunks!.count + 1,
          }),
        ));
      blob = join(chunks, header.chunks);
    }
    const key = blob && keyOfBlob(blob);
    if (key !== undefined && key.startsWith(prefix) && samePart(keyPart(key), part)) yield key;
  }
}
