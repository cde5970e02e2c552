import assert from "node:assert/strict";
import { awkwardValues, runConformance } from "../testing.ts";
import {
  addDelta,
  ByteCache,
  defaultSerializer,
  jsonSerializer,
  SerializationError,
} from "../mod.ts";
import type { Serializer } from "../mod.ts";

/** A cache that keeps only serialized bytes: proves a serializer carries the contract's values. */
class BytesCache extends ByteCache {
  #map = new Map<string, { bytes: Uint8Array; expires: number }>();
  #now: () => number;
  constructor(
    serializer: Serializer,
    options: { defaultTtl?: number | undefined; now: () => number },
  ) {
    super({ ...options, serializer });
    this.#now = options.now;
  }
  #live(key: string) {
    const entry = this.#map.get(key);
    if (entry && entry.expires !== 0 && entry.expires <= this.#now()) this.#map.delete(key);
    return this.#map.get(key);
  }
  protected _get(key: string) {
    const entry = this.#live(key);
    return Promise.resolve(entry && this._decode(key, entry.bytes));
  }
  protected _set(key: string, value: unknown, ttl: number) {
    // the serializers this test gives are synchronous
    const bytes = this._encode("set", key, value) as Uint8Array;
    this.#map.set(key, { bytes, expires: ttl === 0 ? 0 : this.#now() + ttl });
    return Promise.resolve(true);
  }
  protected _add(key: string, value: unknown, ttl: number) {
    return this.#live(key) ? Promise.resolve(false) : this._set(key, value, ttl);
  }
  protected _delete(key: string) {
    return Promise.resolve(this.#live(key) !== undefined && this.#map.delete(key));
  }
  protected _has(key: string) {
    return Promise.resolve(this.#live(key) !== undefined);
  }
  protected _clear() {
    this.#map.clear();
    return Promise.resolve(true);
  }
  protected _addToCounter(key: string, delta: number, ttl: number, op: "inc" | "dec") {
    const entry = this.#live(key);
    const next = addDelta(op, key, entry ? this._decode(key, entry.bytes) : 0, delta);
    this.#map.set(key, {
      bytes: this._encode(op, key, next) as Uint8Array,
      expires: entry ? entry.expires : ttl === 0 ? 0 : this.#now() + ttl,
    });
    return Promise.resolve(next);
  }
}

Deno.test("a cache over defaultSerializer bytes conforms", async (t) => {
  await runConformance(t, {
    name: "BytesCache(defaultSerializer)",
    make: (options) => new BytesCache(defaultSerializer, options),
    // a test backend that keeps to the required hooks
    quirks: {
      unsupported: {
        ttl: "does not implement the _ttl hook",
        touch: "does not implement the _touch hook",
        keys: "does not implement the _keys hook",
      },
    },
  });
});

Deno.test("defaultSerializer round-trips every awkward value", async (t) => {
  for (const [name, value] of awkwardValues()) {
    await t.step(name, () => {
      assert.deepStrictEqual(
        defaultSerializer.deserialize(defaultSerializer.serialize(value)),
        value,
      );
    });
  }
});

Deno.test("defaultSerializer keeps shared references, errors and boxed primitives", () => {
  const shared = { n: 1 };
  const buffer = new ArrayBuffer(8);
  const value = {
    a: shared,
    b: shared,
    views: [new Uint8Array(buffer, 0, 4), new Uint8Array(buffer, 4, 4)],
    error: new RangeError("too far", { cause: "why" }),
    boxed: Object(5),
  };
  const back = defaultSerializer.deserialize(defaultSerializer.serialize(value)) as typeof value;
  assert.equal(back.a, back.b);
  assert.equal(back.views[0]!.buffer, back.views[1]!.buffer);
  assert.ok(back.error instanceof RangeError);
  assert.equal(back.error.message, "too far");
  assert.equal(back.error.cause, "why");
  assert.deepStrictEqual(back.boxed, Object(5));
});

Deno.test("defaultSerializer writes plain data as JSON and reads jsonSerializer's bytes", () => {
  const plain = { user: "ada", n: [1, 2.5, null, true] };
  assert.equal(new TextDecoder().decode(defaultSerializer.serialize(plain)), JSON.stringify(plain));
  assert.deepStrictEqual(defaultSerializer.deserialize(jsonSerializer.serialize(plain)), plain);
});

Deno.test("defaultSerializer rejects values that cannot be cloned with a SerializationError", async (t) => {
  for (
    const [name, value] of [
      ["nested function", { f() {} }],
      ["nested symbol", [Symbol("s")]],
      ["promise", Promise.resolve(1)],
      ["weak map", new WeakMap()],
    ] as const
  ) {
    await t.step(name, () => {
      assert.throws(() => defaultSerializer.serialize(value), SerializationError);
    });
  }
});

class Point {
  #secret = 1;
  constructor(readonly x: number, readonly y: number) {}
  get sum(): number {
    return this.x + this.y + this.#secret;
  }
}

/**
 * Values at the edge of what structuredClone copies, by description: `true` when the
 * structured clone algorithm refuses it (HTML refuses a URL at any depth; Deno's
 * structuredClone only at the top, which is why the nested cases are listed).
 */
export function cloneEdgeValues(): [string, () => unknown, boolean][] {
  return [
    ["URL", () => new URL("https://example.com/a?b=1"), true],
    ["Headers", () => new Headers({ a: "b" }), true],
    ["boxed Symbol", () => Object(Symbol("s")), true],
    ["Request", () => new Request("https://example.com/"), true],
    ["Response", () => new Response("body"), true],
    ["URLSearchParams", () => new URLSearchParams("a=1"), true],
    ["ReadableStream", () => new ReadableStream(), true],
    ["URL inside a plain object", () => ({ link: new URL("https://example.com/") }), true],
    ["Headers inside a Map", () => new Map([["h", new Headers()]]), true],
    [
      "URL inside a class instance",
      () => Object.assign(new Point(1, 2), { u: new URL("a:b") }),
      true,
    ],
    ["boxed Symbol in an array", () => [1, Object(Symbol("s"))], true],
    ["class instance (own fields only)", () => new Point(1, 2), false],
    ["class instance in an array", () => [new Point(3, 4), { p: new Point(5, 6) }], false],
    ["AbortController (no own fields)", () => new AbortController(), false],
    ["Float16Array", () => new Float16Array([1.5, -2]), false],
    ["DOMException", () => new DOMException("gone", "AbortError"), false],
    ["Error subclass", () => new (class MyError extends Error {})("m"), false],
    ["AggregateError", () => new AggregateError([1], "many"), false],
    ["Error named toString", () => Object.assign(new Error("m"), { name: "toString" }), false],
    [
      "Error named constructor",
      () => Object.assign(new Error("m"), { name: "constructor" }),
      false,
    ],
    ["Error named __proto__", () => Object.assign(new Error("m"), { name: "__proto__" }), false],
    [
      "Error named hasOwnProperty",
      () => Object.assign(new Error("m"), { name: "hasOwnProperty" }),
      false,
    ],
  ];
}

/** What a read of `value` must look like: structuredClone's copy, compared field by field. */
function comparable(value: unknown): unknown {
  if (value instanceof Error) {
    return {
      type: Object.getPrototypeOf(value).constructor.name,
      name: value.name,
      message: value.message,
    };
  }
  return value;
}

Deno.test("defaultSerializer accepts what structuredClone accepts and refuses what it refuses", async (t) => {
  for (const [name, make, refused] of cloneEdgeValues()) {
    await t.step(name, () => {
      if (refused) {
        assert.throws(() => defaultSerializer.serialize(make()), {
          name: "SerializationError",
          message: /cannot be cloned/,
        });
        return;
      }
      const back = defaultSerializer.deserialize(defaultSerializer.serialize(make()));
      assert.deepStrictEqual(comparable(back), comparable(structuredClone(make())));
    });
  }
});

Deno.test("defaultSerializer refuses shared memory, Blob and CryptoKey instead of writing {}", async (t) => {
  const key = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
  const cases: [string, unknown, RegExp][] = [
    ["SharedArrayBuffer", new SharedArrayBuffer(4), /a SharedArrayBuffer is shared memory/],
    [
      "Uint8Array over a SharedArrayBuffer",
      { v: new Uint8Array(new SharedArrayBuffer(4)) },
      /a Uint8Array over one is shared memory/,
    ],
    ["Blob", new Blob(["x"]), /a Blob cannot be written as bytes/],
    ["File", [new File(["x"], "f.txt")], /a File cannot be written as bytes/],
    ["CryptoKey", { key }, /a CryptoKey cannot be written as bytes/],
  ];
  for (const [name, value, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => defaultSerializer.serialize(value), {
        name: "SerializationError",
        message,
      });
    });
  }
});

Deno.test("defaultSerializer reads back an Error whose name is an Object.prototype member", () => {
  for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf"]) {
    const error = new Error(`named ${name}`, { cause: 7 });
    error.name = name;
    const back = defaultSerializer.deserialize(defaultSerializer.serialize({ error })) as {
      error: Error;
    };
    assert.ok(back.error instanceof Error, name);
    assert.equal(back.error.message, `named ${name}`);
    assert.equal(back.error.name, structuredClone(error).name, "the name structuredClone gives");
    assert.equal(back.error.cause, 7);
  }
});

Deno.test("defaultSerializer turns a throwing getter into a SerializationError", () => {
  const value = {
    get broken(): number {
      throw new Error("getter failed");
    },
  };
  assert.throws(() => defaultSerializer.serialize(value), {
    name: "SerializationError",
    message: /getter failed/,
  });
});

Deno.test("defaultSerializer turns corrupt bytes into a SerializationError, never a crash", async (t) => {
  const good = defaultSerializer.serialize({ d: new Date(1), m: new Map([["k", [1, 2, 3]]]) });
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array()],
    ["magic only", Uint8Array.of(0xc7)],
    ["unknown version", Uint8Array.of(0xc7, 99, 1)],
    ["unknown tag", Uint8Array.of(0xc7, 1, 250)],
    ["bad reference", Uint8Array.of(0xc7, 1, 14, 5)],
    ["huge count", Uint8Array.of(0xc7, 1, 10, 0xff, 0xff, 0xff, 0x7f)],
    ["trailing bytes", Uint8Array.of(...good, 0)],
    ["truncated", good.subarray(0, good.length - 3)],
    ["invalid utf-8 JSON", Uint8Array.of(0x22, 0xff, 0x22)],
    ["not JSON", new TextEncoder().encode("{nope")],
  ];
  for (const [name, bytes] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => defaultSerializer.deserialize(bytes),
        (e: Error) => e instanceof SerializationError && /Cannot deserialize/.test(e.message),
      );
    });
  }
  await t.step("every truncation of a binary value", () => {
    for (let n = 0; n < good.length; n++) {
      assert.throws(
        () => defaultSerializer.deserialize(good.subarray(0, n)),
        SerializationError,
        `length ${n}`,
      );
    }
  });
  await t.step("10 000 seeded random byte strings", () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 10_000; i++) {
      const bytes = Uint8Array.from(
        { length: 1 + Math.floor(random() * 40) },
        () => Math.floor(random() * 256),
      );
      if (i % 2 === 0) bytes[0] = 0xc7, bytes[1] = 1;
      try {
        defaultSerializer.deserialize(bytes);
      } catch (error) {
        assert.ok(error instanceof SerializationError, String(error));
      }
    }
  });
});

Deno.test("jsonSerializer refuses values JSON would change", async (t) => {
  for (
    const [name, value] of [
      ["Date", new Date(0)],
      ["Map", new Map()],
      ["BigInt", 1n],
      ["NaN", NaN],
      ["-0", -0],
      ["undefined field", { a: undefined }],
      ["class instance", new URL("http://x")],
    ] as const
  ) {
    await t.step(name, () => {
      assert.throws(() => jsonSerializer.serialize(value), SerializationError);
    });
  }
  assert.deepEqual(jsonSerializer.deserialize(jsonSerializer.serialize({ a: [1, "b"] })), {
    a: [1, "b"],
  });
  assert.throws(() => jsonSerializer.deserialize(Uint8Array.of(0xc7, 1)), SerializationError);
});

Deno.test("defaultSerializer reads from a node Buffer without aliasing its pool", async () => {
  const { Buffer } = await import("node:buffer");
  const value = { bytes: new Uint8Array([1, 2, 3]), raw: new Uint16Array([7, 8]).buffer };
  const encoded = defaultSerializer.serialize(value);
  // A pooled Buffer: the encoded bytes sit at an offset inside a larger ArrayBuffer.
  const pooled = Buffer.alloc(encoded.length + 64, 0xee);
  pooled.set(encoded, 32);
  const slice = pooled.subarray(32, 32 + encoded.length);
  const back = defaultSerializer.deserialize(slice) as typeof value;
  assert.deepStrictEqual(back.bytes, new Uint8Array([1, 2, 3]));
  assert.equal(back.bytes.buffer.byteLength, 3, "the ArrayBuffer is a copy of exactly its bytes");
  assert.deepStrictEqual(new Uint16Array(back.raw), new Uint16Array([7, 8]));
});

Deno.test("defaultSerializer keeps a string's leading U+FEFF (a byte order mark) in every form", async (t) => {
  const values: [string, unknown][] = [
    ["a long string (binary form)", "\uFEFF" + "x".repeat(2_000)],
    ["a short non-ASCII string in the binary form", { at: new Date(0), text: "\uFEFFé" }],
    ["a short string in JSON", "\uFEFFa"],
    ["a field name in the binary form", { at: new Date(0), ["\uFEFFé"]: 1 }],
    ["JSON with a long string", { text: "\uFEFF" + "é".repeat(300) }],
  ];
  for (const [name, value] of values) {
    await t.step(name, () => {
      assert.deepStrictEqual(
        defaultSerializer.deserialize(defaultSerializer.serialize(value)),
        value,
      );
    });
  }
  await t.step("JSON bytes that start with a byte order mark still read", () => {
    const bytes = Uint8Array.of(0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{"a":[1]}'));
    assert.deepStrictEqual(defaultSerializer.deserialize(bytes), { a: [1] });
  });
});

Deno.test("defaultSerializer decodes text of every length like a strict UTF-8 decoder (seeded fuzz)", () => {
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let seed = 11;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  // Mostly ASCII with some valid and some broken multi-byte sequences, at lengths around
  // the short-text threshold (256 bytes) and past it.
  const pieces = [
    [0x61],
    [0x7a],
    [0x20],
    [0xc3, 0xa9],
    [0xe2, 0x82, 0xac],
    [0xf0, 0x9f, 0x98, 0x80],
    [0xef, 0xbf, 0xbd], // a real U+FFFD
    [0xff],
    [0xc3],
    [0xe2, 0x82],
    [0xc0, 0x80],
    [0xed, 0xa0, 0x80],
    [0x80],
    [0xf4, 0x90, 0x80, 0x80],
  ];
  let refused = 0;
  for (let i = 0; i < 4_000; i++) {
    const length = [1, 10, 100, 250, 256, 257, 300, 2_000][i % 8]!;
    const body: number[] = [];
    while (body.length < length) {
      const piece = random() < 0.9
        ? pieces[Math.floor(random() * 3)]!
        : pieces[Math.floor(random() * pieces.length)]!;
      body.push(...piece);
    }
    const bytes = Uint8Array.of(0x22, ...body, 0x22); // a JSON string literal
    let expected: unknown;
    try {
      expected = JSON.parse(strict.decode(bytes));
    } catch {
      expected = SerializationError;
    }
    if (expected === SerializationError) {
      refused++;
      assert.throws(() => defaultSerializer.deserialize(bytes), SerializationError, `case ${i}`);
    } else assert.equal(defaultSerializer.deserialize(bytes), expected, `case ${i}`);
  }
  assert.ok(refused > 1_000 && refused < 3_800, `refused ${refused} of 4 000`);
});

/** `text` as WTF-8 (UTF-8, with a lone surrogate as its own 3-byte sequence): the reference. */
function wtf8Bytes(text: string): number[] {
  const out: number[] = [];
  for (const char of text) {
    const c = char.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else {
      out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
  }
  return out;
}

/** A string in the binary form: magic, version, the String tag, the length, the bytes. */
function binaryString(body: number[]): Uint8Array {
  const head = [0xc7, 1, 6];
  for (let n = body.length;; n = Math.floor(n / 0x80)) {
    if (n < 0x80) {
      head.push(n);
      break;
    }
    head.push((n % 0x80) | 0x80);
  }
  return Uint8Array.of(...head, ...body);
}

/**
 * Every class of malformed UTF-8, alone and among valid text, at lengths around both
 * thresholds (64: the ASCII loop; 256: `utf8Slice`): each reads back as the one string
 * whose bytes these are, or is a SerializationError; never another string.
 */
const MALFORMED: [string, number[]][] = [
  ["an overlong NUL", [0xc0, 0x80]],
  ["an overlong 3-byte form", [0xe0, 0x80, 0xaf]],
  ["an overlong 4-byte form", [0xf0, 0x80, 0x80, 0xaf]],
  ["a 5-byte form", [0xf8, 0x88, 0x80, 0x80, 0x80]],
  ["a 6-byte form", [0xfc, 0x84, 0x80, 0x80, 0x80, 0x80]],
  ["a byte F5", [0xf5, 0x80, 0x80, 0x80]],
  ["a byte FE", [0xfe]],
  ["a byte FF", [0xff]],
  ["a lone continuation byte", [0x80]],
  ["past U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
  ["a truncated 2-byte form", [0xc3]],
  ["a truncated 3-byte form", [0xe2, 0x82]],
  ["a truncated 4-byte form", [0xf0, 0x9f, 0x98]],
  ["a surrogate pair as two 3-byte forms (CESU-8)", [0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80]],
  ["a real U+FFFD, then FF", [0xef, 0xbf, 0xbd, 0xff]],
  ["FF, then a real U+FFFD", [0xff, 0xef, 0xbf, 0xbd]],
];

Deno.test("defaultSerializer never reads malformed text as another string", async (t) => {
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const fills = [0, 1, 60, 63, 64, 200, 250, 251, 252, 253, 254, 255, 256, 257, 1_000];
  for (const [name, bad] of MALFORMED) {
    await t.step(name, () => {
      for (const fill of fills) {
        for (const where of ["end", "start"]) {
          const text = Array(fill).fill(0x61);
          const body = where === "end" ? [...text, ...bad] : [...bad, ...text];
          // The binary form: a lone surrogate is legal there (WTF-8), nothing else is.
          const bin = binaryString(body);
          let read: unknown;
          try {
            read = defaultSerializer.deserialize(bin);
          } catch (error) {
            assert.ok(error instanceof SerializationError, `${name}, ${fill} ${where}`);
            continue;
          }
          assert.equal(typeof read, "string");
          assert.deepEqual(wtf8Bytes(read as string), body, `${name}, ${fill} ${where}`);
          // JSON text: only strict UTF-8.
          const json = Uint8Array.of(0x22, ...body, 0x22);
          assert.throws(() => defaultSerializer.deserialize(json), SerializationError);
          assert.throws(() => strict.decode(json));
        }
        // JSON text of exactly 255, 256 and 257 bytes with the bad bytes last.
        for (const total of [255, 256, 257]) {
          const text = Array(Math.max(0, total - bad.length - 2)).fill(0x61);
          const json = Uint8Array.of(0x22, ...text, ...bad, 0x22);
          assert.throws(() => defaultSerializer.deserialize(json), SerializationError);
        }
      }
    });
  }
  await t.step("a lone surrogate written by the serializer reads back", () => {
    for (const value of ["\uD800", "\uDC00", "a\uDBFF", "\uDC00\uD800", "\uD800x\uDC00"]) {
      const map = new Map([[value, value.repeat(100)]]);
      assert.deepStrictEqual(defaultSerializer.deserialize(defaultSerializer.serialize(map)), map);
    }
  });
  await t.step("a real U+FFFD, NUL bytes and byte order marks read back exactly", () => {
    for (const fill of [0, 62, 63, 64, 252, 253, 254, 255, 256, 300]) {
      const pad = "a".repeat(fill);
      for (
        const value of [
          `${pad}\uFFFD`,
          `\uFFFD${pad}`,
          `${pad}\0`,
          `\uFEFF${pad}`,
          `\uFEFF\uFEFF${pad}`,
          `${pad}\uFEFF`,
        ]
      ) {
        for (const stored of [value, { at: new Date(0), value }, [value], { value }]) {
          const bytes = defaultSerializer.serialize(stored);
          assert.deepStrictEqual(defaultSerializer.deserialize(bytes), stored);
        }
      }
    }
  });
});
