/**
 * Byte plumbing shared by the backends that speak a wire protocol.
 *
 * @module
 */

/** Anything bytes can be written to in pieces, like a `Deno.Conn`. */
export interface Writer {
  /** Writes some of `bytes`; resolves to how many. */
  write(bytes: Uint8Array): Promise<number>;
}

/**
 * Writes every byte of `bytes`, however many calls the writer needs.
 *
 * @example
 * ```ts
 * import { writeAll } from "./io.ts";
 * import assert from "node:assert/strict";
 *
 * const seen: number[] = [];
 * const slow = { write: (b: Uint8Array) => (seen.push(b[0]!), Promise.resolve(1)) };
 * await writeAll(slow, new Uint8Array([1, 2, 3]));
 * assert.deepEqual(seen, [1, 2, 3]);
 * ```
 */
export async function writeAll(writer: Writer, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await writer.write(bytes.subarray(at));
}

/** The typed arrays {@linkcode grown} copies. */
export type TypedArray =
  | Uint8Array
  | Int32Array
  | Uint32Array
  | Float64Array;

/**
 * A new array of the same type and `length`, holding the first `keep` items of
 * `array` (all of them by default): how a buffer or a slot column grows.
 *
 * @example Double a slot column
 * ```ts
 * import { grown } from "./io.ts";
 * import assert from "node:assert/strict";
 *
 * const next = grown(new Int32Array([4, 5]), 4);
 * assert.deepEqual([...next], [4, 5, 0, 0]);
 * assert.ok(next instanceof Int32Array);
 * ```
 */
export function grown<T extends TypedArray>(array: T, length: number, keep = array.length): T {
  const next = new (array.constructor as new (length: number) => T)(length);
  next.set(keep === array.length ? array : array.subarray(0, keep));
  return next;
}
