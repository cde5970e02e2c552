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
 * Either method may return a promise (web-standard compression and crypto are
 * asynchronous; see `compressed` and `encrypted`): the backends await only a
 * promise, so a synchronous serializer pays nothing for this. An asynchronous
 * `deserialize` must read (or copy) `bytes` before it first awaits: the
 * backend may reuse that memory afterwards. The bytes `serialize` returns
 * belong to the cache from then on (a backend copies them unless the
 * serializer is one of this library's, which return a fresh buffer each time).
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
 * assert.equal(textOnly.deserialize(textOnly.serialize("hi") as Uint8Array), "hi");
 * ```
 */
export interface Serializer {
  /** Encodes `value`; throws (or rejects with) `SerializationError` for a value it cannot carry. */
  serialize(value: unknown): Uint8Array | Promise<Uint8Array>;
  /** Decodes bytes made by `serialize`; throws (or rejects with) `SerializationError` for anything else. */
  deserialize(bytes: Uint8Array): unknown;
}

/**
 * A {@linkcode Serializer} that answers synchronously, like
 * `defaultSerializer` and `jsonSerializer`.
 */
export interface SyncSerializer extends Serializer {
  /** Encodes `value`; throws `SerializationError` for a value it cannot carry. */
  serialize(value: unknown): Uint8Array;
}

/** A {@linkcode Serializer} that always answers with a promise, like `compressed` and `encrypted`. */
export interface AsyncSerializer extends Serializer {
  /** Encodes `value`; rejects with `SerializationError` for a value it cannot carry. */
  serialize(value: unknown): Promise<Uint8Array>;
  /** Decodes bytes made by `serialize`; rejects with `SerializationError` for anything else. */
  deserialize(bytes: Uint8Array): Promise<unknown>;
}

/**
 * This library's serializers whose `serialize` returns a buffer nobody else
 * holds, so the byte layer stores it without a copy. Internal.
 */
export const _freshOutput: WeakSet<Serializer> = new WeakSet();

/**
 * This library's serializers that never return a promise, so a backend may
 * run them inside a synchronous critical section. Internal.
 */
export const _synchronous: WeakSet<Serializer> = new WeakSet();
