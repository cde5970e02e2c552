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
 * Reading reverses this; bytes that are neither tagged nor an integer read
 * back as a (UTF-8) string, so a value another program wrote never crashes a
 * read.
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

/** `pattern` with Redis glob characters escaped, for `SCAN MATCH`. */
export function escapeGlob(pattern: string): string {
  return pattern.replace(/[\\*?[\]]/g, "\\$&");
}
