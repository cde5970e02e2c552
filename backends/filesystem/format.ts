/**
 * The on-disk format of {@linkcode FileSystemCache} entries and the names of
 * the files it owns.
 *
 * An entry file is a 24-byte header then the serializer's bytes:
 *
 * | bytes | content                                              |
 * | ----- | ---------------------------------------------------- |
 * | 0–3   | magic `clfs` (`63 6c 66 73`)                         |
 * | 4     | format version (1)                                   |
 * | 5–7   | zero                                                 |
 * | 8–15  | absolute expiry, ms since the epoch, float64 LE; 0 = never |
 * | 16–23 | payload length, float64 LE                           |
 *
 * A file whose magic, version, reserved bytes or length do not match is
 * corrupt (empty, truncated, foreign, or another format version).
 *
 * @module
 */

/** Bytes before the payload. */
export const HEADER_SIZE = 24;
/** The format version this code writes and reads. */
export const FORMAT_VERSION = 1;
/** What {@linkcode expiryOf} answers for a file that is not a valid entry. */
export const CORRUPT = -1;

const MAGIC = [0x63, 0x6c, 0x66, 0x73];

/** An entry's file name: the sha-256 of the key, 64 lowercase hex digits. */
export const ENTRY_NAME = /^[0-9a-f]{64}$/;
/** A temp file: `<entry name>.<writer tag><sequence>.tmp`. */
export const TEMP_NAME = /^[0-9a-f]{64}\.[0-9a-z]+\.tmp$/;

/** Builds an entry file's bytes: header, then `payload`. */
export function encodeEntry(expiry: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(HEADER_SIZE + payload.length);
  bytes.set(MAGIC);
  bytes[4] = FORMAT_VERSION;
  const view = new DataView(bytes.buffer);
  view.setFloat64(8, expiry, true);
  view.setFloat64(16, payload.length, true);
  bytes.set(payload, HEADER_SIZE);
  return bytes;
}

/**
 * The expiry stored in a header (`0` = never), or {@linkcode CORRUPT}.
 *
 * @param header At least the first {@linkcode HEADER_SIZE} bytes of the file
 * (fewer means the file is too short).
 * @param size The file's whole size in bytes.
 */
export function expiryOf(header: Uint8Array, size: number): number {
  if (
    header.length < HEADER_SIZE || header[0] !== MAGIC[0] || header[1] !== MAGIC[1] ||
    header[2] !== MAGIC[2] || header[3] !== MAGIC[3] || header[4] !== FORMAT_VERSION ||
    header[5] !== 0 || header[6] !== 0 || header[7] !== 0
  ) {
    return CORRUPT;
  }
  const view = new DataView(header.buffer, header.byteOffset, HEADER_SIZE);
  const expiry = view.getFloat64(8, true);
  const length = view.getFloat64(16, true);
  if (!(expiry >= 0) || expiry === Infinity || length !== size - HEADER_SIZE) return CORRUPT;
  return expiry;
}

/** Whether an entry with this expiry (from {@linkcode expiryOf}) is live at `now`. */
export function isLive(expiry: number, now: number): boolean {
  return expiry === 0 || expiry > now;
}

const headerBuffer = new Uint8Array(HEADER_SIZE);

/**
 * Reads only the header of the file at `path`.
 *
 * @returns The stored expiry, {@linkcode CORRUPT}, or `undefined` when the
 * file does not exist. Other errors are thrown.
 */
export function readExpiry(path: string): number | undefined {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  try {
    const size = file.statSync().size;
    let read = 0;
    while (read < HEADER_SIZE) {
      const n = file.readSync(headerBuffer.subarray(read));
      if (n === null || n === 0) break;
      read += n;
    }
    return expiryOf(headerBuffer.subarray(0, read), size);
  } finally {
    file.close();
  }
}
