/**
 * How values are stored. With the default serializer: safe integers as
 * offset decimal ASCII (so memcached's own `incr`/`decr` count them, below
 * zero too), well-formed strings as UTF-8 text (readable by any memcached
 * client, and cheaper to decode), everything else as serializer bytes. With a
 * custom serializer every value goes through it; only counters (items that
 * `incr`/`decr` made or touched) are decimal. The item flags say which.
 *
 * @module
 */
import { _describe, SerializationError } from "../../cache.ts";

/** Flags of an item holding serializer bytes. */
export const FLAG_SERIALIZED = 0xca1b;
/** Flags of an item holding a string as UTF-8. */
export const FLAG_STRING = 0xca1c;
/**
 * Added to the flags when the stored bytes start with one extra `#`: bytes
 * that begin like a number (whitespace, a sign or a digit) would otherwise
 * be counted by memcached's `incr`, which ignores flags.
 */
export const FLAG_GUARDED = 0x10000;
/** Flags of an item holding an integer (also what memcached gives a counter it creates). */
export const FLAG_INTEGER = 0;

/**
 * The offset added to integers before they are written. memcached counts
 * unsigned 64-bit numbers and `decr` stops at 0; stored as `n + 10^18`, every
 * safe integer n (|n| < 2^53 ≈ 9 × 10^15) and every safe delta stay far from
 * both 0 and 2^64, so `incr`/`decr` are exact, atomic and keep the expiry.
 */
export const OFFSET = 10n ** 18n;

const ascii = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** Whether `value` is stored as an integer (a safe integer other than -0). */
export function isStoredInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && !Object.is(value, -0);
}

/** The bytes of integer `n`: `n + OFFSET` in decimal ASCII. */
export function encodeInteger(n: number): Uint8Array {
  return ascii.encode((OFFSET + BigInt(n)).toString());
}

/**
 * The integer in bytes written by {@linkcode encodeInteger} or changed by
 * `incr`/`decr` (which may pad with spaces); `undefined` for anything else.
 */
export function decodeInteger(bytes: Uint8Array): number | undefined {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0x20) end--;
  if (end === 0 || end > 20) return undefined;
  for (let i = 0; i < end; i++) {
    const c = bytes[i]!;
    if (c < 0x30 || c > 0x39) return undefined;
  }
  const stored = BigInt(latin1.decode(bytes.subarray(0, end)));
  return isCounter(stored) ? fromCounter(stored) : undefined;
}

/** The integer a stored counter value stands for. */
export function fromCounter(stored: bigint): number {
  return Number(stored - OFFSET);
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Whether `stored` is a counter this backend wrote: `OFFSET + n` for a safe
 * integer n. Anything else (`42` written by another client) is foreign.
 */
export function isCounter(stored: bigint): boolean {
  return stored >= OFFSET - SAFE && stored <= OFFSET + SAFE;
}

/** Whether memcached's `incr` could read `bytes` as a number (its `strtoull` skips spaces and a sign). */
export function looksNumeric(bytes: Uint8Array): boolean {
  const c = bytes[0];
  return c !== undefined &&
    ((c >= 0x30 && c <= 0x39) || c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x2b ||
      c === 0x2d);
}

/** `bytes` behind a `#`, so `incr` refuses them (see {@linkcode FLAG_GUARDED}). */
export function guard(bytes: Uint8Array): Uint8Array {
  const guarded = new Uint8Array(bytes.length + 1);
  guarded[0] = 0x23;
  guarded.set(bytes, 1);
  return guarded;
}

// ignoreBOM: a leading U+FEFF is part of the string. Bytes that are not UTF-8 are foreign: the
// fast decoder turns them into U+FFFD, and only text holding one is checked again by the fatal
// decoder (about 0.5 µs more per value if every value went through it).
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const strictUtf8 = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true });
const utf8Encoder = new TextEncoder();

/** The flags and bytes of one encoded value. */
export interface Encoded {
  flags: number;
  bytes: Uint8Array;
}

/**
 * The flags and bytes for `value`: an integer, a well-formed string as
 * UTF-8, or `serialize(value)`; guarded when the bytes look like a number.
 * With `custom` (a serializer the caller gave) every value is serialized.
 */
export function encodeValue(
  value: unknown,
  serialize: (value: unknown) => Uint8Array | Promise<Uint8Array>,
  custom = false,
): Encoded | Promise<Encoded> {
  if (!custom) {
    if (isStoredInteger(value)) return { flags: FLAG_INTEGER, bytes: encodeInteger(value) };
    if (typeof value === "string" && value.isWellFormed()) {
      return guarded(FLAG_STRING, utf8Encoder.encode(value));
    }
  }
  const bytes = serialize(value);
  return bytes instanceof Promise
    ? bytes.then((ready) => guarded(FLAG_SERIALIZED, ready))
    : guarded(FLAG_SERIALIZED, bytes);
}

function guarded(flags: number, bytes: Uint8Array): Encoded {
  return looksNumeric(bytes)
    ? { flags: flags | FLAG_GUARDED, bytes: guard(bytes) }
    : { flags, bytes };
}

/**
 * The value in an item's flags and bytes: exactly what was stored, or an error.
 *
 * @throws {SerializationError} An item this backend did not write (another
 * client's flags, a decimal outside the counter range, bytes that are not UTF-8).
 */
export function decodeValue(
  key: string,
  flags: number,
  bytes: Uint8Array,
  deserialize: (bytes: Uint8Array) => unknown,
): unknown {
  if (flags & FLAG_GUARDED) {
    flags ^= FLAG_GUARDED;
    bytes = bytes.subarray(1);
  }
  if (flags === FLAG_STRING) {
    const text = utf8.decode(bytes);
    if (!text.includes("\uFFFD")) return text;
    try {
      return strictUtf8.decode(bytes);
    } catch (cause) {
      throw new SerializationError(
        `Cannot read key ${_describe(key)}: the item's bytes are not UTF-8 text`,
        { cause },
      );
    }
  }
  if (flags === FLAG_SERIALIZED) return deserialize(bytes);
  const n = flags === FLAG_INTEGER ? decodeInteger(bytes) : undefined;
  if (n === undefined) {
    throw new SerializationError(
      `Cannot read key ${
        _describe(key)
      }: the item was not written by MemcachedCache (flags ${flags}, ${bytes.length} bytes)`,
    );
  }
  return n;
}
