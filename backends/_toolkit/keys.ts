/**
 * Key hashing for servers that cannot carry every key (too long, a byte they
 * refuse, a lone surrogate UTF-8 cannot encode).
 *
 * @module
 */
import { createHash } from "node:crypto";

/**
 * The SHA-256 of the key's UTF-16 code units (little-endian): every string,
 * lone surrogates included, has its own digest.
 *
 * @example
 * ```ts
 * import { keyDigest } from "./keys.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(keyDigest("a").length, 32);
 * assert.notDeepEqual(keyDigest("\ud800"), keyDigest("\ud801"));
 * ```
 */
export function keyDigest(key: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(utf16le(key)).digest());
}

/** {@linkcode keyDigest} as base64url text (43 characters), for a server key that must be text. */
export function keyDigestText(key: string): string {
  return createHash("sha256").update(utf16le(key)).digest("base64url");
}

/** The key's UTF-16 code units as little-endian bytes (lone surrogates included). */
export function utf16le(key: string): Uint8Array {
  const bytes = new Uint8Array(key.length * 2);
  for (let i = 0; i < key.length; i++) {
    const unit = key.charCodeAt(i);
    bytes[2 * i] = unit & 0xff;
    bytes[2 * i + 1] = unit >> 8;
  }
  return bytes;
}
