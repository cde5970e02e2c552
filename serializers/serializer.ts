/**
 * The {@linkcode Serializer} interface: how file and network backends turn
 * values into bytes and back.
 *
 * @module
 */

/**
 * Turns values into bytes and back. `deserialize` must throw
 * `SerializationError` for bytes it cannot read, never return a wrong value.
 *
 * @example A serializer that stores strings only
 * ```ts
 * import { type Serializer, SerializationError } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const textOnly: Serializer = {
 *   serialize(value) {
 *     if (typeof value !== "string") throw new SerializationError("Cannot serialize: strings only");
 *     return new TextEncoder().encode(value);
 *   },
 *   deserialize(bytes) {
 *     return new TextDecoder().decode(bytes);
 *   },
 * };
 * assert.equal(textOnly.deserialize(textOnly.serialize("hi")), "hi");
 * ```
 */
export interface Serializer {
  /** Encodes `value`; throws `SerializationError` for a value it cannot carry. */
  serialize(value: unknown): Uint8Array;
  /** Decodes bytes made by `serialize`; throws `SerializationError` for anything else. */
  deserialize(bytes: Uint8Array): unknown;
}
