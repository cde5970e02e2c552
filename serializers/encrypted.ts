/**
 * {@linkcode encrypted}: a serializer that encrypts another one's bytes with
 * AES-GCM through the web-standard `crypto.subtle`.
 *
 * The stored format, version 1:
 *
 * | bytes     | content                                              |
 * | --------- | ---------------------------------------------------- |
 * | 0         | format version, `0x01` (also authenticated, as AAD)  |
 * | 1 – 12    | the IV: 96 random bits, new for every value          |
 * | 13 – end  | AES-GCM ciphertext of the inner bytes, then its 16-byte tag |
 *
 * @module
 */
import { _describe, SerializationError } from "../cache.ts";
import { _freshOutput, type AsyncSerializer, type Serializer } from "./serializer.ts";
import { _innerBytes } from "./_inner.ts";

const VERSION = 1;
const IV_SIZE = 12;
const TAG_SIZE = 16;
const HEAD = 1 + IV_SIZE;
/** The version byte, authenticated with every value, so a future format cannot be mistaken for this one. */
const AAD = new Uint8Array([VERSION]);

/**
 * Wraps `serializer` so its bytes are encrypted and authenticated with
 * AES-GCM under `key` (128, 192 or 256 bits), with a random 96-bit IV per
 * value. Bytes that were altered, truncated, or encrypted under another key
 * are a `SerializationError`, never a wrong value. The result is asynchronous;
 * the byte-storing backends await it.
 *
 * What it does not hide: the cache key, the value's length and its expiry.
 * A value is not bound to its key: someone who can write to the store can
 * copy one key's valid value to another key. Compress before encrypting
 * (`encrypted(compressed(...), key)`), never after: ciphertext does not compress.
 *
 * @param serializer The serializer whose bytes are encrypted, e.g. `defaultSerializer`.
 * @param key An AES-GCM `CryptoKey` whose usages include `encrypt` and `decrypt`.
 * @returns A serializer whose `serialize` and `deserialize` return promises.
 * @throws {TypeError} `serializer` is not a serializer, or `key` is not an AES-GCM
 * key usable for both encrypting and decrypting.
 *
 * @example Encrypt what a shared Redis holds
 * ```ts
 * import { compressed, defaultSerializer, encrypted } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
 *   "encrypt",
 *   "decrypt",
 * ]);
 * const secret = encrypted(compressed(defaultSerializer), key);
 * const bytes = await secret.serialize({ card: "4111 1111 1111 1111" });
 * assert.equal(bytes[0], 1); // the format version, then the IV, then ciphertext and tag
 * assert.deepEqual(await secret.deserialize(bytes), { card: "4111 1111 1111 1111" });
 * bytes[20]! ^= 1;
 * await assert.rejects(secret.deserialize(bytes), { name: "SerializationError" });
 * ```
 */
export function encrypted(serializer: Serializer, key: CryptoKey): AsyncSerializer {
  const where = "Cannot create an encrypted serializer";
  if (
    typeof serializer?.serialize !== "function" || typeof serializer?.deserialize !== "function"
  ) {
    throw new TypeError(
      `${where}: serializer must have serialize and deserialize methods, received ${
        _describe(serializer)
      }`,
    );
  }
  if (typeof CryptoKey === "undefined" || !(key instanceof CryptoKey)) {
    throw new TypeError(`${where}: key must be a CryptoKey, received ${_describe(key)}`);
  }
  if (key.algorithm.name !== "AES-GCM") {
    throw new TypeError(
      `${where}: key must be an AES-GCM key, received a ${key.algorithm.name} key`,
    );
  }
  if (!key.usages.includes("encrypt") || !key.usages.includes("decrypt")) {
    throw new TypeError(
      `${where}: key must allow "encrypt" and "decrypt", its usages are ${
        JSON.stringify(key.usages)
      }`,
    );
  }
  const wrapped: AsyncSerializer = {
    async serialize(value: unknown): Promise<Uint8Array> {
      let plain = _innerBytes(serializer, value);
      if (plain instanceof Promise) plain = await plain;
      const iv = crypto.getRandomValues(new Uint8Array(IV_SIZE));
      // subtle.encrypt copies `plain` at the call: a reused buffer cannot change it later.
      const sealed = await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: AAD },
        key,
        plain as Uint8Array<ArrayBuffer>,
      );
      const out = new Uint8Array(HEAD + sealed.byteLength);
      out[0] = VERSION;
      out.set(iv, 1);
      out.set(new Uint8Array(sealed), HEAD);
      return out;
    },
    async deserialize(bytes: Uint8Array): Promise<unknown> {
      if (bytes.length < HEAD + TAG_SIZE) {
        throw new SerializationError(
          `Cannot deserialize ${bytes.length} bytes: too short for an encrypted value (at least ${
            HEAD + TAG_SIZE
          })`,
        );
      }
      if (bytes[0] !== VERSION) {
        throw new SerializationError(
          `Cannot deserialize ${bytes.length} bytes: unknown encrypted format version ${bytes[0]}`,
        );
      }
      let plain: ArrayBuffer;
      try {
        // Both views are copied by subtle.decrypt at the call.
        plain = await crypto.subtle.decrypt(
          { name: "AES-GCM", iv: bytes.slice(1, HEAD), additionalData: AAD },
          key,
          bytes.subarray(HEAD) as Uint8Array<ArrayBuffer>,
        );
      } catch (cause) {
        throw new SerializationError(
          `Cannot deserialize ${bytes.length} bytes: authentication failed (the value was altered, or encrypted under another key)`,
          { cause },
        );
      }
      return await serializer.deserialize(new Uint8Array(plain));
    },
  };
  _freshOutput.add(wrapped);
  return wrapped;
}
