/**
 * How {@linkcode DenoKvCache} lays entries out in Deno KV: the key part of a
 * cache key (the key itself, or its SHA-256 when it is long or not well-formed
 * UTF-16), the header record, the chunks of large values, and the size
 * arithmetic that keeps every commit within KV's limits.
 *
 * Layout under the cache's prefix `P`:
 * - `[...P, part]` → header: magic, kind, expiry (f64 ms, `0` = never), then
 *   either the inline blob or `count`, `size` and the chunk set's `id`.
 * - `[...P, part, id, i]` → chunk `i` of the blob, for blobs over 64 KiB.
 * - The blob is the serialized value; for a hashed key it starts with the
 *   original key (u32 length + UTF-16LE code units) so a read can verify it.
 *
 * @module
 */
import { keyDigest, utf16le } from "../_toolkit/keys.ts";

/** KV's largest value in bytes (a `Uint8Array` is stored as is). */
export const MAX_VALUE = 65_536;
/** KV's largest atomic commit: mutations, and bytes of keys and values. */
export const MAX_MUTATIONS = 1000;
/** KV's largest number of checks in one atomic commit. */
export const MAX_CHECKS = 100;
/** Bytes we allow in one commit, under KV's 819 200 with room for estimation error. */
export const MAX_COMMIT_BYTES = 760_000;
/** Keys up to this many UTF-16 code units are stored as they are; longer ones are hashed. */
export const DIRECT_KEY_MAX = 256;
/** The largest prefix, in estimated encoded bytes, that leaves room for every entry key. */
export const MAX_PREFIX_BYTES = 1024;

const MAGIC = 0xdc;
const INLINE = 0;
const CHUNKED = 1;
const HEAD = 10; // magic, kind, f64 expiry
/** The largest blob stored inside the header. */
export const INLINE_MAX = MAX_VALUE - HEAD;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** A chunk set's id: `crypto.randomUUID()`. */
const CHUNK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The largest blob a header can describe (its size field is a u32). */
export const MAX_BLOB = 0xffff_ffff;

/** A parsed header. */
export interface Header {
  /** Absolute expiry in ms of the cache's clock; `0` = never. */
  expires: number;
  /** The blob, when stored inline. */
  inline?: Uint8Array;
  /** The chunk set, when the blob is chunked. */
  chunks?: { count: number; size: number; id: string };
}

/**
 * The KV key part for a cache key: the string itself when short and
 * well-formed (KV would replace a lone surrogate, merging keys), else the
 * SHA-256 of its UTF-16 code units as bytes (a different part type, so a
 * hash never collides with a direct key).
 */
export function keyPart(key: string): string | Uint8Array {
  if (key.length <= DIRECT_KEY_MAX && key.isWellFormed()) return key;
  return keyDigest(key);
}

/**
 * The KV key part for a prefix part, injective over everything a prefix may
 * hold. KV stores a string part as UTF-8, which turns a lone surrogate into
 * U+FFFD, so `["tenant\uD800"]` and `["tenant\uFFFD"]` would be one prefix.
 * Well-formed strings, numbers, bigints, booleans and byte strings not
 * starting with 0xFF are kept as they are (existing data stays readable); a
 * string with a lone surrogate becomes the bytes `FF 01` + its UTF-16LE code
 * units, and a byte string starting with 0xFF gets `FF 00` in front, so no two
 * distinct parts meet.
 */
export function prefixPart(part: Deno.KvKeyPart): Deno.KvKeyPart {
  if (typeof part === "string") {
    if (part.isWellFormed()) return part;
    const bytes = new Uint8Array(2 + part.length * 2);
    bytes.set([0xff, 0x01]);
    bytes.set(utf16le(part), 2);
    return bytes;
  }
  if (part instanceof Uint8Array && part[0] === 0xff) {
    const bytes = new Uint8Array(2 + part.length);
    bytes.set([0xff, 0x00]);
    bytes.set(part, 2);
    return bytes;
  }
  return part;
}

/** Frames the serialized value with the original key when the key is hashed. */
export function toBlob(key: string, hashed: boolean, value: Uint8Array): Uint8Array {
  if (!hashed) return value;
  const blob = new Uint8Array(4 + key.length * 2 + value.length);
  new DataView(blob.buffer).setUint32(0, key.length, true);
  blob.set(utf16le(key), 4);
  blob.set(value, 4 + key.length * 2);
  return blob;
}

/** The serialized value inside a blob, or `undefined` when the blob belongs to another key. */
export function fromBlob(key: string, hashed: boolean, blob: Uint8Array): Uint8Array | undefined {
  if (!hashed) return blob;
  if (blob.length < 4) return undefined;
  const units = new DataView(blob.buffer, blob.byteOffset).getUint32(0, true);
  if (units !== key.length || blob.length < 4 + units * 2) return undefined;
  for (let i = 0; i < units; i++) {
    if ((blob[4 + 2 * i]! | (blob[5 + 2 * i]! << 8)) !== key.charCodeAt(i)) return undefined;
  }
  return blob.subarray(4 + units * 2);
}

/** Encodes a header; for a chunked blob pass the chunk set instead of the blob. */
export function encodeHeader(
  expires: number,
  body: Uint8Array | { count: number; size: number; id: string },
): Uint8Array {
  const rest = body instanceof Uint8Array ? body : encoder.encode(body.id);
  const extra = body instanceof Uint8Array ? 0 : 8;
  const bytes = new Uint8Array(HEAD + extra + rest.length);
  const view = new DataView(bytes.buffer);
  bytes[0] = MAGIC;
  bytes[1] = body instanceof Uint8Array ? INLINE : CHUNKED;
  view.setFloat64(2, expires, true);
  if (!(body instanceof Uint8Array)) {
    view.setUint32(HEAD, body.count, true);
    view.setUint32(HEAD + 4, body.size, true);
  }
  bytes.set(rest, HEAD + extra);
  return bytes;
}

/**
 * Parses a header; `undefined` for anything this layout did not write, including a
 * chunked header whose count, size and id do not agree (a corrupt header is a miss).
 */
export function decodeHeader(value: unknown): Header | undefined {
  if (!(value instanceof Uint8Array) || value.length < HEAD || value[0] !== MAGIC) return undefined;
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const expires = view.getFloat64(2, true);
  if (!(expires >= 0)) return undefined;
  if (value[1] === INLINE) return { expires, inline: value.subarray(HEAD) };
  if (value[1] !== CHUNKED || value.length < HEAD + 9) return undefined;
  const count = view.getUint32(HEAD, true);
  const size = view.getUint32(HEAD + 4, true);
  // Only what encodeHeader writes: a blob too big to inline, split into exactly
  // ceil(size / MAX_VALUE) chunks (so at most 65 536, whatever a corrupt header claims),
  // under a UUID. Every loop over the chunks is bounded by this check.
  if (size <= INLINE_MAX || count !== Math.ceil(size / MAX_VALUE)) return undefined;
  const id = decoder.decode(value.subarray(HEAD + 8));
  if (!CHUNK_ID.test(id)) return undefined;
  return { expires, chunks: { count, size, id } };
}

/** Splits a blob into chunks of at most {@linkcode MAX_VALUE} bytes. */
export function split(blob: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < blob.length; at += MAX_VALUE) {
    chunks.push(blob.subarray(at, at + MAX_VALUE));
  }
  return chunks;
}

/** Joins chunks read back; `undefined` unless they are exactly the set the header describes. */
export function join(
  entries: readonly Deno.KvEntry<unknown>[],
  chunks: { count: number; size: number },
): Uint8Array | undefined {
  if (entries.length !== chunks.count) return undefined;
  const blob = new Uint8Array(chunks.size);
  let at = 0;
  for (const [i, entry] of entries.entries()) {
    const bytes = entry.value;
    if (entry.key.at(-1) !== i || !(bytes instanceof Uint8Array)) return undefined;
    if (at + bytes.length > blob.length) return undefined;
    blob.set(bytes, at);
    at += bytes.length;
  }
  return at === blob.length ? blob : undefined;
}

/**
 * An upper bound of a KV key's encoded size in bytes (KV escapes each 0x00 in
 * strings and bytes as two bytes and adds a type tag and terminator per part).
 */
export function keySize(key: Deno.KvKey): number {
  let size = 0;
  for (const part of key) {
    if (typeof part === "string") size += 2 + 2 * encoder.encode(part).length;
    else if (part instanceof Uint8Array) size += 2 + 2 * part.length;
    else if (typeof part === "bigint") size += 4 + part.toString(16).length;
    else size += 10;
  }
  return size;
}
