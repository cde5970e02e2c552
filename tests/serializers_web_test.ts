/**
 * The asynchronous serializers (`compressed`, `encrypted`) and the default serializer's
 * UTF-8 checks after the lenient-decoder change.
 */
import assert from "node:assert/strict";
import {
  compressed,
  defaultSerializer,
  encrypted,
  jsonSerializer,
  SerializationError,
  type Serializer,
} from "../mod.ts";

const aesKey = (usages: KeyUsage[] = ["encrypt", "decrypt"]) =>
  crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, usages);

const isSerializationError = (pattern: RegExp) => (error: Error) => {
  assert.ok(error instanceof SerializationError, `${error.name}: ${error.message}`);
  assert.match(error.message, pattern);
  return true;
};

Deno.test("default serializer: malformed UTF-8 is a SerializationError, short or long, JSON or binary", () => {
  const long = (bytes: number[]) =>
    Uint8Array.from([0x22, ...new TextEncoder().encode("a".repeat(300)), ...bytes, 0x22]);
  const bad: [string, Uint8Array][] = [
    ["a lone 0xff in short JSON", Uint8Array.of(0x22, 0xff, 0x22)],
    ["a lone 0xff in long JSON", long([0xff])],
    ["a truncated sequence", Uint8Array.of(0x22, 0xc3, 0x22)],
    ["an overlong NUL", Uint8Array.of(0x22, 0xc0, 0x80, 0x22)],
    ["an encoded surrogate", long([0xed, 0xa0, 0x80])],
    ["a stray continuation byte", long([0x80])],
    // binary form: tag String (6), length 2, bytes 0xc3 0x28 (invalid continuation)
    ["a binary-form string", Uint8Array.of(0xc7, 1, 10, 1, 6, 2, 0xc3, 0x28)],
    // a long string value (binary form since 1 024 chars) with one byte broken
    [
      "a long binary-form string",
      (() => {
        const bytes = defaultSerializer.serialize("a".repeat(2000)).slice();
        bytes[1000] = 0xff;
        return bytes;
      })(),
    ],
  ];
  for (const [what, bytes] of bad) {
    assert.throws(
      () => defaultSerializer.deserialize(bytes),
      isSerializationError(/Cannot deserialize \d+ bytes/),
      what,
    );
  }
});

Deno.test("default serializer: long well-formed strings use the binary form, others JSON", () => {
  assert.deepEqual([...defaultSerializer.serialize("x".repeat(1024)).subarray(0, 5)], [
    0xc7,
    1,
    6,
    0x80,
    0x08,
  ]);
  assert.equal(defaultSerializer.serialize("x".repeat(1023))[0], 0x22, "shorter: JSON text");
  const lone = "a\uD800".repeat(600);
  assert.equal(defaultSerializer.serialize(lone)[0], 0x22, "a lone surrogate: JSON escapes it");
  for (const text of ["x".repeat(1024), "😀é".repeat(40_000), lone]) {
    assert.equal(defaultSerializer.deserialize(defaultSerializer.serialize(text)), text);
  }
});

Deno.test("default serializer: a real U+FFFD and a leading BOM read back as before", () => {
  for (const text of ["\uFFFD", `x${"\uFFFD".repeat(400)}y`, "é".repeat(500), "a".repeat(300)]) {
    const value = { text, list: [text] };
    assert.deepEqual(defaultSerializer.deserialize(defaultSerializer.serialize(value)), value);
    assert.deepEqual(jsonSerializer.deserialize(jsonSerializer.serialize(value)), value);
  }
  // binary form with a non-ASCII string
  const odd = { at: new Date(0), text: "\uFFFD é" };
  assert.deepEqual(defaultSerializer.deserialize(defaultSerializer.serialize(odd)), odd);
  // the fatal decoder dropped a leading BOM; the lenient one does the same
  assert.equal(defaultSerializer.deserialize(Uint8Array.of(0xef, 0xbb, 0xbf, 0x31)), 1);
});

Deno.test("compressed(): round trips, shrinks repetitive values, refuses damaged bytes", async () => {
  const value = { rows: Array.from({ length: 200 }, (_, i) => ({ id: i, at: new Date(i) })) };
  const plain = defaultSerializer.serialize(value);
  for (const format of ["gzip", "deflate"] as const) {
    const codec = compressed(defaultSerializer, format);
    const bytes = await codec.serialize(value);
    assert.ok(bytes.length < plain.length / 3, `${format}: ${bytes.length} vs ${plain.length}`);
    assert.deepEqual(await codec.deserialize(bytes), value);
    if (format === "gzip") assert.deepEqual([...bytes.subarray(0, 2)], [0x1f, 0x8b]);
    await assert.rejects(
      codec.deserialize(bytes.subarray(0, bytes.length - 4)),
      isSerializationError(new RegExp(`Cannot deserialize \\d+ bytes: not ${format} data`)),
    );
    const flipped = bytes.slice();
    flipped[Math.floor(flipped.length / 2)]! ^= 0xff;
    await assert.rejects(codec.deserialize(flipped), SerializationError);
    await assert.rejects(codec.deserialize(plain), SerializationError);
  }
  assert.throws(() => compressed(defaultSerializer, "brotli" as "gzip"), {
    name: "TypeError",
    message: /format must be "gzip" or "deflate", received "brotli"/,
  });
  assert.throws(() => compressed({} as Serializer), {
    name: "TypeError",
    message: /serializer must have serialize and deserialize methods/,
  });
  // the inner serializer's refusal passes through
  await assert.rejects(compressed(jsonSerializer).serialize(new Date(0)), SerializationError);
});

Deno.test("encrypted(): version byte, random IV, authenticated; tampering and wrong keys are SerializationErrors", async () => {
  const key = await aesKey();
  const codec = encrypted(compressed(defaultSerializer), key);
  const value = { card: "4111 1111 1111 1111", at: new Date(1) };
  const a = await codec.serialize(value);
  const b = await codec.serialize(value);
  assert.equal(a[0], 1, "format version 1");
  assert.notDeepEqual(a.subarray(1, 13), b.subarray(1, 13), "a new IV per value");
  assert.ok(!new TextDecoder().decode(a).includes("4111"), "no plaintext");
  assert.deepEqual(await codec.deserialize(a), value);
  // every byte is authenticated: version, IV, ciphertext, tag
  for (const at of [0, 1, 12, 13, a.length - 1]) {
    const tampered = a.slice();
    tampered[at]! ^= 0x01;
    await assert.rejects(
      codec.deserialize(tampered),
      isSerializationError(at === 0 ? /unknown encrypted format version/ : /authentication failed/),
      `byte ${at}`,
    );
  }
  await assert.rejects(
    codec.deserialize(a.subarray(0, 20)),
    isSerializationError(/too short for an encrypted value/),
  );
  const other = encrypted(compressed(defaultSerializer), await aesKey());
  await assert.rejects(other.deserialize(a), isSerializationError(/another key/));
  // a value under an unencrypted serializer is refused, not misread
  await assert.rejects(
    codec.deserialize(defaultSerializer.serialize("x".repeat(40))),
    SerializationError,
  );
});

Deno.test("encrypted(): refuses keys it cannot use", async () => {
  const hmac = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  assert.throws(() => encrypted(defaultSerializer, hmac), {
    name: "TypeError",
    message: /key must be an AES-GCM key, received a HMAC key/,
  });
  const encryptOnly = await aesKey(["encrypt"]);
  assert.throws(() => encrypted(defaultSerializer, encryptOnly), {
    name: "TypeError",
    message: /key must allow "encrypt" and "decrypt"/,
  });
  assert.throws(() => encrypted(defaultSerializer, "secret" as unknown as CryptoKey), {
    name: "TypeError",
    message: /key must be a CryptoKey, received "secret"/,
  });
});

Deno.test("encrypted(compressed()): a buffer the inner serializer reuses cannot change sealed values", async () => {
  const shared = new Uint8Array(64);
  const reusing: Serializer = {
    serialize(value) {
      const text = new TextEncoder().encode(JSON.stringify(value));
      shared.set(text);
      return shared.subarray(0, text.length);
    },
    deserialize: (bytes) => JSON.parse(new TextDecoder().decode(bytes)),
  };
  const codec = encrypted(compressed(reusing), await aesKey());
  const sealed = await Promise.all([1, 22, 333].map((n) => codec.serialize({ n })));
  assert.deepEqual(await Promise.all(sealed.map((bytes) => codec.deserialize(bytes))), [
    { n: 1 },
    { n: 22 },
    { n: 333 },
  ]);
});

Deno.test("default serializer: lone surrogates survive the binary form, in values and field names", () => {
  const lone = "a\uD800b\uDC00c";
  const values: unknown[] = [
    { at: new Date(0), text: lone },
    new Map([[lone, new Set([lone, "😀"])]]),
    { at: new Date(0), [lone]: 1, [`${lone}${"x".repeat(80)}`]: 2 },
    [undefined, `\uDBFF${"é".repeat(100)}`],
  ];
  for (const value of values) {
    assert.deepStrictEqual(
      defaultSerializer.deserialize(defaultSerializer.serialize(value)),
      value,
    );
  }
  // an encoded surrogate is accepted only in the binary form (WTF-8); JSON text refuses it
  assert.equal(
    defaultSerializer.deserialize(Uint8Array.of(0xc7, 1, 6, 3, 0xed, 0xa0, 0x80)),
    "\uD800",
  );
  assert.throws(
    () => defaultSerializer.deserialize(Uint8Array.of(0x22, 0xed, 0xa0, 0x80, 0x22)),
    SerializationError,
  );
  // still malformed in WTF-8: an overlong form, a bad continuation
  for (const bad of [[0xe0, 0x80, 0x80], [0xed, 0x20, 0x80], [0xf4, 0x90, 0x80, 0x80]]) {
    assert.throws(
      () => defaultSerializer.deserialize(Uint8Array.of(0xc7, 1, 6, bad.length, ...bad)),
      SerializationError,
      JSON.stringify(bad),
    );
  }
});
