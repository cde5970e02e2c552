/**
 * {@linkcode compressed}: a serializer that compresses another one's bytes
 * with the web-standard `CompressionStream` (gzip or deflate).
 *
 * @module
 */
import { _describe, SerializationError } from "../cache.ts";
import { _freshOutput, type AsyncSerializer, type Serializer } from "./serializer.ts";

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
 * `deflate`, i.e. zlib). Both formats end with a checksum, so truncated or
 * altered bytes are a `SerializationError`, never a wrong value. The result is
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
      let bytes = serializer.serialize(value);
      if (bytes instanceof Promise) bytes = await bytes;
      if (!(bytes instanceof Uint8Array)) {
        throw new SerializationError(
          `Cannot serialize value: the inner serializer returned ${
            _describe(bytes)
          }, not a Uint8Array`,
        );
      }
      return await pipe(bytes, new CompressionStream(format));
    },
    async deserialize(bytes: Uint8Array): Promise<unknown> {
      let plain: Uint8Array;
      try {
        plain = await pipe(bytes, new DecompressionStream(format));
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
