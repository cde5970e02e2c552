/**
 * The on-disk format of {@linkcode FileSystemCache} entries and the names of
 * the files it owns.
 *
 * An entry file is a 96-byte header, the key, then the serializer's bytes:
 *
 * | bytes    | content                                                        |
 * | -------- | -------------------------------------------------------------- |
 * | 0–3      | magic `clfs` (`63 6c 66 73`)                                   |
 * | 4        | format version (3; 2 is still read)                            |
 * | 5–7      | zero                                                           |
 * | 8–11     | CRC-32 (uint32 LE) of bytes 12 to the end of the file          |
 * | 12–15    | the key's length `k` in bytes, uint32 LE (format 2: zero)      |
 * | 16–23    | absolute expiry, ms since the epoch, float64 LE; 0 = never     |
 * | 24–31    | payload length, float64 LE                                     |
 * | 32–95    | the entry's name: the key's sha-256 in lowercase hex (ASCII)   |
 * | 96–96+k  | the key, as its UTF-16LE code units (format 3 only)            |
 * | 96+k–end | the payload                                                    |
 *
 * Format 3 stores the key so that `keys()` can list the directory; format 2
 * (no key, `k` = 0) is still read, and rewritten as format 3 by the next write.
 * A file whose magic, version, reserved bytes, lengths, name or checksum do
 * not match is corrupt (empty, truncated, flipped, copied from another key,
 * foreign, or format version 1, which had no checksum).
 *
 * @module
 */
import { crc32 } from "node:zlib";
import { utf16le } from "../_toolkit/keys.ts";

/** Bytes before the payload. */
export const HEADER_SIZE = 96;
/** The format version this code writes (it also reads {@linkcode OLD_FORMAT_VERSION}). */
export const FORMAT_VERSION = 3;
/** The previous format: no key stored. */
export const OLD_FORMAT_VERSION = 2;
/** What {@linkcode expiryOf} and {@linkcode verifyEntry} answer for a file that is not a valid entry. */
export const CORRUPT = -1;

const MAGIC = [0x63, 0x6c, 0x66, 0x73];
const NAME_AT = 32;
const NAME_LENGTH = 64;

/** An entry's file name: the sha-256 of the key, 64 lowercase hex digits. */
export const ENTRY_NAME = /^[0-9a-f]{64}$/;
/** A temp file: `<entry name>.<writer tag><sequence>.tmp`. */
export const TEMP_NAME = /^[0-9a-f]{64}\.[0-9a-z]+\.tmp$/;

/**
 * Builds an entry file's bytes: header (with the checksum and `name`), `key`, then `payload`.
 * Without `key`, a format 2 file (for tests of reading old files).
 */
export function encodeEntry(
  name: string,
  expiry: number,
  payload: Uint8Array,
  key?: string,
): Uint8Array {
  const keyBytes = key === undefined ? 0 : key.length * 2;
  const bytes = new Uint8Array(HEADER_SIZE + keyBytes + payload.length);
  bytes.set(MAGIC);
  bytes[4] = key === undefined ? OLD_FORMAT_VERSION : FORMAT_VERSION;
  const view = new DataView(bytes.buffer);
  view.setUint32(12, keyBytes, true);
  view.setFloat64(16, expiry, true);
  view.setFloat64(24, payload.length, true);
  for (let i = 0; i < NAME_LENGTH; i++) bytes[NAME_AT + i] = name.charCodeAt(i);
  if (key !== undefined) bytes.set(utf16le(key), HEADER_SIZE);
  bytes.set(payload, HEADER_SIZE + keyBytes);
  view.setUint32(8, crc32(bytes.subarray(12)), true);
  return bytes;
}

/** The key's length in bytes a valid header records (`0` for format 2). */
function keyLength(header: Uint8Array): number {
  return new DataView(header.buffer, header.byteOffset, HEADER_SIZE).getUint32(12, true);
}

/** The payload of a whole entry file that {@linkcode verifyEntry} accepted. */
export function payloadOf(bytes: Uint8Array): Uint8Array {
  return bytes.subarray(HEADER_SIZE + keyLength(bytes));
}

/**
 * The key stored in an entry whose header {@linkcode expiryOf} accepted, given the header
 * and the `k` bytes after it, or `undefined` for a format 2 entry (which stores no key).
 */
export function storedKey(header: Uint8Array, keyBytes: Uint8Array): string | undefined {
  if (header[4] !== FORMAT_VERSION || keyBytes.length !== keyLength(header)) return undefined;
  let key = "";
  for (let i = 0; i < keyBytes.length; i += 2) {
    key += String.fromCharCode(keyBytes[i]! | (keyBytes[i + 1]! << 8));
  }
  return key;
}

/**
 * Whether a whole entry (as {@linkcode verifyEntry} accepted it) was written for `key`: a
 * format 3 entry stores its key, compared code unit by code unit without building a string;
 * a format 2 entry stores only the key's hash, which the caller has checked.
 */
export function storesKey(bytes: Uint8Array, key: string): boolean {
  if (bytes[4] !== FORMAT_VERSION) return true;
  const length = keyLength(bytes);
  if (length !== key.length * 2) return false;
  for (let i = 0, at = HEADER_SIZE; i < key.length; i++, at += 2) {
    if ((bytes[at]! | (bytes[at + 1]! << 8)) !== key.charCodeAt(i)) return false;
  }
  return true;
}

/** How many bytes of key follow a header {@linkcode expiryOf} accepted. */
export function storedKeyLength(header: Uint8Array): number {
  return keyLength(header);
}

/**
 * The expiry stored in a header (`0` = never), or {@linkcode CORRUPT}; checks
 * everything but the checksum (which needs the whole file).
 *
 * @param header At least the first {@linkcode HEADER_SIZE} bytes of the file
 * (fewer means the file is too short).
 * @param size The file's whole size in bytes.
 * @param name The entry name the file is stored under.
 */
export function expiryOf(header: Uint8Array, size: number, name: string): number {
  if (
    header.length < HEADER_SIZE || header[0] !== MAGIC[0] || header[1] !== MAGIC[1] ||
    header[2] !== MAGIC[2] || header[3] !== MAGIC[3] ||
    (header[4] !== FORMAT_VERSION && header[4] !== OLD_FORMAT_VERSION) ||
    header[5] !== 0 || header[6] !== 0 || header[7] !== 0
  ) {
    return CORRUPT;
  }
  const keyBytes = keyLength(header);
  // format 2 stores no key (bytes 12–15 zero); a key is whole UTF-16 code units
  if ((header[4] === OLD_FORMAT_VERSION && keyBytes !== 0) || keyBytes % 2 !== 0) return CORRUPT;
  for (let i = 0; i < NAME_LENGTH; i++) {
    if (header[NAME_AT + i] !== name.charCodeAt(i)) return CORRUPT; // another key's file
  }
  const view = new DataView(header.buffer, header.byteOffset, HEADER_SIZE);
  const expiry = view.getFloat64(16, true);
  const length = view.getFloat64(24, true);
  if (!(expiry >= 0) || expiry === Infinity || length !== size - HEADER_SIZE - keyBytes) {
    return CORRUPT;
  }
  return expiry;
}

/**
 * The expiry of a whole entry file's `bytes` stored under `name`, or
 * {@linkcode CORRUPT} when any header field, the name or the checksum does not match.
 */
export function verifyEntry(bytes: Uint8Array, name: string): number {
  const expiry = expiryOf(bytes, bytes.length, name);
  if (expiry === CORRUPT) return CORRUPT;
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE);
  return view.getUint32(8, true) === crc32(bytes.subarray(12)) ? expiry : CORRUPT;
}

/** Whether an entry with this expiry (from {@linkcode expiryOf}) is live at `now`. */
export function isLive(expiry: number, now: number): boolean {
  return expiry === 0 || expiry > now;
}
