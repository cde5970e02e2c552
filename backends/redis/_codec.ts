/**
 * How {@linkcode RedisCache} lays values out in Redis strings:
 *
 * - a safe integer (not `-0`) is its decimal ASCII text (`"42"`), so `INCRBY`
 *   and other programs read it as the number it is;
 * - a well-formed string that would not read back as an integer is its UTF-8
 *   bytes, untouched, so other programs read it as the text it is;
 * - everything else is the tag byte `0xFF` (never the first byte of UTF-8
 *   text) followed by the serializer's bytes.
 *
 * That plain layout is used only with the default serializer. With a custom
 * `serializer` every value `set`/`add`/`setMany` store is tagged and goes
 * through it, strings and integers included; the only untagged values are
 * counters `inc`/`dec` wrote (decimal text, so `INCRBY` stays atomic).
 *
 * Reading reverses this; with the default serializer, bytes that are neither
 * tagged nor an integer read back as a (UTF-8) string, so a value another
 * program wrote never crashes a read.
 *
 * Keys: a well-formed key is sent as its UTF-8 text; a key with a lone
 * surrogate as its WTF-8 bytes (the surrogate as the 3 bytes `ED A0..BF xx`,
 * which no UTF-8 text contains), so distinct JavaScript strings are always
 * distinct Redis keys.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** The first byte of a serialized value: `0xFF` never starts UTF-8 text. */
export const TAG = 0xff;

const MAX_DIGITS = 16; // Number.MAX_SAFE_INTEGER has 16 digits
const text = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * The safe integer spelled canonically (`0`, `-12`, never `+1`, `007`, `-0`)
 * by `length` characters read through `at`, or `undefined`.
 */
function canonicalInteger(length: number, at: (i: number) => number): number | undefined {
  if (length === 0 || length > MAX_DIGITS + 1) return undefined;
  const negative = at(0) === 0x2d; // "-"
  const start = negative ? 1 : 0;
  const digits = length - start;
  if (digits === 0 || digits > MAX_DIGITS) return undefined;
  const first = at(start);
  if (first === 0x30) return digits === 1 && !negative ? 0 : undefined; // "0" only
  let n = 0;
  for (let i = start; i < length; i++) {
    const c = at(i) - 0x30;
    if (c < 0 || c > 9) return undefined;
    n = n * 10 + c;
  }
  if (n > Number.MAX_SAFE_INTEGER) return undefined;
  return negative ? -n : n;
}

/** Whether `value` would read back as a number if stored as its own text. */
export function readsAsInteger(value: string): boolean {
  return canonicalInteger(value.length, (i) => value.charCodeAt(i)) !== undefined;
}

/** The safe integer these bytes spell canonically, or `undefined`. */
export function integerOf(bytes: Uint8Array): number | undefined {
  return canonicalInteger(bytes.length, (i) => bytes[i]!);
}

/**
 * The text `value` is stored as when it needs no serializer: a safe integer's
 * decimal form, or a well-formed string that would not read back as an
 * integer; otherwise `undefined`.
 */
export function plainText(value: unknown): string | undefined {
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && !Object.is(value, -0) ? String(value) : undefined;
  }
  if (typeof value === "string") {
    return value.isWellFormed() && !readsAsInteger(value) ? value : undefined;
  }
  return undefined;
}

/** `TAG` followed by `bytes` (a serializer's output), as one Redis argument. */
export function tagged(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(bytes.length + 1);
  out[0] = TAG;
  out.set(bytes, 1);
  return out;
}

/** Whether a stored Redis string holds serializer bytes after `TAG`. */
export function isTagged(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] === TAG;
}

/** An untagged Redis string's value: a canonical safe integer, else UTF-8 text. */
export function plainValue(bytes: Uint8Array): number | string {
  // Buffer#toString is ~2× faster than TextDecoder here and also keeps a BOM
  return integerOf(bytes) ??
    (bytes instanceof Buffer ? bytes.toString("utf8") : text.decode(bytes));
}

/**
 * `text` as WTF-8: UTF-8, except that a lone surrogate is encoded like any
 * other code point (3 bytes `ED A0..BF 80..BF`, invalid in UTF-8). Injective
 * on JavaScript strings, and equal to UTF-8 for well-formed ones.
 */
export function wtf8(text: string): Buffer {
  const parts: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++; // a well-formed pair
        continue;
      }
    }
    parts.push(Buffer.from(text.slice(start, i), "utf8"));
    parts.push(Uint8Array.of(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)));
    start = i + 1;
  }
  parts.push(Buffer.from(text.slice(start), "utf8"));
  return Buffer.concat(parts);
}

/**
 * The Redis key for `key` under `prefix`: the plain string (sent as UTF-8)
 * when both are well-formed, as before; else the WTF-8 bytes of each, joined.
 * Encoding the two separately keeps every key of a prefix starting with the
 * prefix's bytes, so `SCAN MATCH` finds them.
 */
export function serverKey(prefix: string, prefixWellFormed: boolean, key: string): RedisKey {
  if (prefixWellFormed && key.isWellFormed()) return prefix + key;
  return Buffer.concat([wtf8(prefix), wtf8(key)]);
}

/** A Redis key as sent: a string (sent as UTF-8) or bytes. */
export type RedisKey = string | Buffer;

/** `pattern` with Redis glob characters escaped, for `SCAN MATCH`. */
export function escapeGlob(pattern: string): string {
  return pattern.replace(/[\\*?[\]]/g, "\\$&");
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The string whose {@linkcode wtf8} bytes are `bytes`, or `undefined` when no string has
 * them (bytes another program wrote that are neither UTF-8 nor WTF-8).
 *
 * @example
 * ```ts
 * import { fromWtf8, wtf8 } from "./_codec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(fromWtf8(wtf8("a\uD800b")), "a\uD800b");
 * assert.equal(fromWtf8(new Uint8Array([0xff])), undefined);
 * ```
 */
export function fromWtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    // a lone surrogate (ED A0..BF xx) is not UTF-8: decode by hand below
  }
  let text = "";
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    const n = b < 0x80
      ? 1
      : b >= 0xc2 && b < 0xe0
      ? 2
      : b >= 0xe0 && b < 0xf0
      ? 3
      : b >= 0xf0 && b < 0xf5
      ? 4
      : 0;
    if (n === 0 || i + n > bytes.length) return undefined;
    let point = n === 1 ? b : b & (0xff >> (n + 1));
    for (let j = 1; j < n; j++) {
      const c = bytes[i + j]!;
      if ((c & 0xc0) !== 0x80) return undefined;
      point = (point << 6) | (c & 0x3f);
    }
    if (point > 0x10ffff) return undefined;
    text += String.fromCodePoint(point);
    i += n;
  }
  // overlong forms and surrogate pairs spelled as two 3-byte sequences are not wtf8's output
  return Buffer.compare(wtf8(text), bytes) === 0 ? text : undefined;
}
