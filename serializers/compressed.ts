/**
 * {@linkcode compressed}: a serializer that compresses another one's bytes
 * with the web-standard `CompressionStream` (gzip or deflate).
 *
 * @module
 */
import { _describe, SerializationError } from "../cache.ts";
import { _freshOutput, type AsyncSerializer, type Serializer } from "./serializer.ts";
import { _innerBytes } from "./_inner.ts";

/** The formats of `CompressionStream` that carry their own checksum. */
export type CompressionFormat = "gzip" | "deflate";

const FORMATS: readonly string[] = ["gzip", "deflate"];

/** `bytes` run through a compression or decompression stream. */
function pipe(
  bytes: Uint8Array,
  stream: CompressionStream | DecompressionStream,
): Promise<Uint8Array> {
  // The Blob copies `bytes` now: the caller may reuse its buffer once this returns.
  const source = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream();
  return new Response(source.pipeThrough(stream)).bytes();
}

/**
 * Wraps `serializer` so its bytes are compressed (`gzip`, the default, or
 * `deflate`, i.e. zlib). Both formats end with a checksum (gzip's CRC-32 and
 * length, checked by the platform; zlib's Adler-32, checked here), so
 * truncated or altered bytes are a `SerializationError`, never a wrong value. The result is
 * asynchronous; the byte-storing backends await it. Small values grow by the
 * format's framing (gzip 18 bytes, deflate 6): compress where values are large.
 *
 * @param serializer The serializer whose bytes are compressed, e.g. `defaultSerializer`.
 * @param format `"gzip"` (default) or `"deflate"`.
 * @returns A serializer whose `serialize` and `deserialize` return promises.
 * @throws {TypeError} `serializer` is not a serializer, or `format` is not one of the two.
 *
 * @example Compress a repetitive value
 * ```ts
 * import { compressed, defaultSerializer } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const gzip = compressed(defaultSerializer, "gzip");
 * const value = { rows: Array.from({ length: 100 }, (_, i) => ({ id: i, status: "active" })) };
 * const bytes = await gzip.serialize(value);
 * assert.ok(bytes.length < (defaultSerializer.serialize(value)).length / 4);
 * assert.deepEqual(await gzip.deserialize(bytes), value);
 * ```
 */
export function compressed(
  serializer: Serializer,
  format: CompressionFormat = "gzip",
): AsyncSerializer {
  if (
    typeof serializer?.serialize !== "function" || typeof serializer?.deserialize !== "function"
  ) {
    throw new TypeError(
      `Cannot create a compressed serializer: serializer must have serialize and deserialize methods, received ${
        _describe(serializer)
      }`,
    );
  }
  if (!FORMATS.includes(format)) {
    throw new TypeError(
      `Cannot create a compressed serializer: format must be "gzip" or "deflate", received ${
        _describe(format)
      }`,
    );
  }
  const wrapped: AsyncSerializer = {
    async serialize(value: unknown): Promise<Uint8Array> {
      let bytes = _innerBytes(serializer, value);
      if (bytes instanceof Promise) bytes = await bytes;
      return await pipe(bytes, new CompressionStream(format));
    },
    async deserialize(bytes: Uint8Array): Promise<unknown> {
      let plain: Uint8Array;
      try {
        plain = await pipe(bytes, new DecompressionStream(format));
        // Deno's inflate stops at the end of the deflate data without checking the zlib
        // trailer, so a truncated value would read back short: check the Adler-32 here.
        if (format === "deflate" && !adlerMatches(bytes, plain)) {
          throw new Error("the Adler-32 checksum does not match (truncated or altered)");
        }
      } catch (cause) {
        throw new SerializationError(
          `Cannot deserialize ${bytes.length} bytes: not ${format} data, or damaged (${
            (cause as Error).message
          })`,
          { cause },
        );
      }
      return await serializer.deserialize(plain);
    },
  };
  _freshOutput.add(wrapped);
  return wrapped;
}

/** Whether the zlib trailer of `zlib` (big-endian Adler-32) is the checksum of `plain`. */
function adlerMatches(zlib: Uint8Array, plain: Uint8Array): boolean {
  const n = zlib.length;
  if (n < 6) return false;
  const stored =
    ((zlib[n - 4]! << 24) | (zlib[n - 3]! << 16) | (zlib[n - 2]! << 8) | zlib[n - 1]!) >>>
    0;
  let a = 1;
  let b = 0;
  // 5552 bytes is the most that cannot overflow before the modulo (zlib's NMAX)
  for (let start = 0; start < plain.length; start += 5552) {
    const end = Math.min(start + 5552, plain.length);
    for (let i = start; i < end; i++) {
      a += plain[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0 === stored;
}
