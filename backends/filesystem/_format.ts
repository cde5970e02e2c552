/**
 * The on-disk format of {@linkcode FileSystemCache} entries and the names of
 * the files it owns.
 *
 * An entry file is a 96-byte header then the serializer's bytes:
 *
 * | bytes | content                                                        |
 * | ----- | -------------------------------------------------------------- |
 * | 0–3   | magic `clfs` (`63 6c 66 73`)                                   |
 * | 4     | format version (2)                                             |
 * | 5–7   | zero                                                           |
 * | 8–11  | CRC-32 (uint32 LE) of bytes 12 to the end of the file          |
 * | 12–15 | zero                                                           |
 * | 16–23 | absolute expiry, ms since the epoch, float64 LE; 0 = never     |
 * | 24–31 | payload length, float64 LE                                     |
 * | 32–95 | the entry's name: the key's sha-256 in lowercase hex (ASCII)   |
 *
 * A file whose magic, version, reserved bytes, length, name or checksum do
 * not match is corrupt (empty, truncated, flipped, copied from another key,
 * foreign, or format version 1, which had no checksum).
 *
 * @module
 */
import { crc32 } from "node:zlib";

/** Bytes before the payload. */
export const HEADER_SIZE = 96;
/** The format version this code writes and reads. */
export const FORMAT_VERSION = 2;
/** What {@linkcode expiryOf} and {@linkcode verifyEntry} answer for a file that is not a valid entry. */
export const CORRUPT = -1;

const MAGIC = [0x63, 0x6c, 0x66, 0x73];
const NAME_AT = 32;
const NAME_LENGTH = 64;

/** An entry's file name: the sha-256 of the key, 64 lowercase hex digits. */
export const ENTRY_NAME = /^[0-9a-f]{64}$/;
/** A temp file: `<entry name>.<writer tag><sequence>.tmp`. */
export const TEMP_NAME = /^[0-9a-f]{64}\.[0-9a-z]+\.tmp$/;

/** Builds an entry file's bytes: header (with the checksum and `name`), then `payload`. */
export function encodeEntry(name: string, expiry: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(HEADER_SIZE + payload.length);
  bytes.set(MAGIC);
  bytes[4] = FORMAT_VERSION;
  const view = new DataView(bytes.buffer);
  view.setFloat64(16, expiry, true);
  view.setFloat64(24, payload.length, true);
  for (let i = 0; i < NAME_LENGTH; i++) bytes[NAME_AT + i] = name.charCodeAt(i);
  bytes.set(payload, HEADER_SIZE);
  view.setUint32(8, crc32(bytes.subarray(12)), true);
  return bytes;
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
    header[2] !== MAGIC[2] || header[3] !== MAGIC[3] || header[4] !== FORMAT_VERSION ||
    header[5] !== 0 || header[6] !== 0 || header[7] !== 0 || header[12] !== 0 ||
    header[13] !== 0 || header[14] !== 0 || header[15] !== 0
  ) {
    return CORRUPT;
  }
  for (let i = 0; i < NAME_LENGTH; i++) {
    if (header[NAME_AT + i] !== name.charCodeAt(i)) return CORRUPT; // another key's file
  }
  const view = new DataView(header.buffer, header.byteOffset, HEADER_SIZE);
  const expiry = view.getFloat64(16, true);
  const length = view.getFloat64(24, true);
  if (!(expiry >= 0) || expiry === Infinity || length !== size - HEADER_SIZE) return CORRUPT;
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
