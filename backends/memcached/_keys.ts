/**
 * Key mapping and value encoding for memcached, whose keys are 1–250 bytes
 * without spaces or control characters and whose values are bytes plus a
 * 32-bit flags word.
 *
 * @module
 */
import { keyDigestText } from "../_toolkit/keys.ts";

/** memcached's longest key, in bytes. */
export const MAX_KEY_BYTES = 250;
/** The longest `keyPrefix` accepted, leaving room for a generation and a hashed key. */
export const MAX_PREFIX_BYTES = 180;

/** Whether `text` is 1+ printable ASCII characters without spaces (so also 1 byte each). */
export function isPlain(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/**
 * The memcached key for `key` in namespace `ns` (the key prefix, plus the
 * generation when there is a prefix). A key that is plain, does not start
 * with `~` and fits is used as is; any other becomes `~` and the base64url
 * SHA-256 of its UTF-16 code units (so lone surrogates stay distinct). No
 * plain key starts with `~`, so the two sets cannot collide.
 */
export function mapKey(ns: string, key: string): string {
  if (
    ns.length + key.length <= MAX_KEY_BYTES && key.charCodeAt(0) !== 0x7e && isPlain(key)
  ) {
    return ns + key;
  }
  return ns + "~" + keyDigestText(key);
}

/** The key holding a prefix's generation: `~` right after the prefix, where no data key has one. */
export function generationKey(prefix: string): string {
  return prefix + "~generation";
}

/** A fresh generation: 10 random base-36 characters (never the same as an earlier one in practice). */
export function newGeneration(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n.toString(36).padStart(13, "0").slice(-10);
}

/** The namespace of data keys for `prefix` in `generation` (empty without a prefix). */
export function namespace(prefix: string, generation: string): string {
  return prefix === "" ? "" : `${prefix}${generation}:`;
}

const SECONDS_30_DAYS = 30 * 24 * 3600;

/**
 * The latest absolute expiration the binary protocol carries: its field is
 * 32 bits unsigned (2106-02-07 UTC; `0xffffffff` is `incr`'s "do not create").
 */
export const MAX_EXPIRATION = 0xfffffffe;
/** The latest the text protocol's `T` flag carries: it reads a signed 32-bit number (2038-01-19 UTC). */
export const MAX_TEXT_EXPIRATION = 0x7fffffff;

/**
 * memcached's expiration for a ttl in ms: 0 (never), else whole seconds
 * rounded up; beyond 30 days an absolute Unix time, as memcached requires.
 * A ttl ending after `max` (the protocol's latest time) expires at `max`:
 * a huge ttl stays huge instead of wrapping around 32 bits into the past.
 */
export function expiration(
  ttl: number,
  now: number = Date.now(),
  max: number = MAX_EXPIRATION,
): number {
  if (ttl === 0) return 0;
  const seconds = Math.ceil(ttl / 1000);
  return seconds > SECONDS_30_DAYS ? Math.min(Math.ceil(now / 1000) + seconds, max) : seconds;
}
