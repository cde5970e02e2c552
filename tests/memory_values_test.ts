/**
 * MemoryCache and NullCache: what a value must be to be stored (the value rule shared with the
 * byte-storing backends), and which option names they take.
 */
import assert from "node:assert/strict";
import { MemoryCache, NullCache, SerializationError } from "../mod.ts";

Deno.test("MemoryCache: a throwing getter is a SerializationError naming the key, the error its cause", async () => {
  await using cache = new MemoryCache();
  const boom = new Error("getter failed");
  const values: [string, unknown][] = [
    ["plain object", {
      get broken(): number {
        throw boom;
      },
    }],
    [
      "nested in a Map",
      new Map([["m", {
        get broken(): number {
          throw boom;
        },
      }]]),
    ],
  ];
  for (const [name, value] of values) {
    await assert.rejects(cache.set(name, value), (e: Error) => {
      assert.ok(e instanceof SerializationError, `${name}: ${e}`);
      assert.match(e.message, new RegExp(`^Cannot set key "${name}": value cannot be cloned`));
      assert.equal(e.cause, boom);
      return true;
    });
    assert.equal(await cache.has(name), false);
  }
});

Deno.test("MemoryCache refuses shared memory and values structuredClone refuses at any depth, storing nothing", async (t) => {
  await using cache = new MemoryCache();
  const cases: [string, () => unknown, RegExp][] = [
    ["SharedArrayBuffer", () => new SharedArrayBuffer(8), /a SharedArrayBuffer is shared memory/],
    [
      "Uint8Array over a SharedArrayBuffer",
      () => new Uint8Array(new SharedArrayBuffer(8)),
      /a Uint8Array over one is shared memory/,
    ],
    [
      "DataView over a SharedArrayBuffer, nested",
      () => ({ view: new DataView(new SharedArrayBuffer(8)) }),
      /a DataView over one is shared memory/,
    ],
    ["URL", () => new URL("https://example.com/"), /cannot be cloned/],
    [
      "URL inside an object",
      () => ({ link: new URL("https://example.com/") }),
      /a URL cannot be cloned/,
    ],
    ["Headers inside a Map", () => new Map([["h", new Headers()]]), /a Headers cannot be cloned/],
    ["boxed Symbol", () => Object(Symbol("s")), /cannot be cloned/],
  ];
  for (const [name, make, message] of cases) {
    await t.step(name, async () => {
      await assert.rejects(cache.set(name, make()), (e: Error) => {
        assert.ok(e instanceof SerializationError, String(e));
        assert.match(e.message, new RegExp(`^Cannot set key "${name}"`));
        assert.match(e.message, message);
        return true;
      });
      assert.equal(await cache.has(name), false);
    });
  }
  await t.step("a view over an ordinary ArrayBuffer is still copied", async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    await cache.set("bytes", bytes);
    bytes[0] = 99;
    assert.deepEqual(await cache.get("bytes"), new Uint8Array([1, 2, 3]));
  });
});

Deno.test("MemoryCache and NullCache reject unknown option names, listing the accepted ones", () => {
  assert.throws(() => new MemoryCache({ maxEntires: 5 } as never), {
    name: "TypeError",
    message:
      'Cannot create MemoryCache: unknown option "maxEntires" (accepted: clone, defaultTtl, maxBytes, maxEntries, now, onEvict, policy, sizeOf)',
  });
  assert.throws(() => new NullCache({ defaultTTL: 5 } as never), {
    name: "TypeError",
    message:
      'Cannot create NullCache: unknown option "defaultTTL" (accepted: defaultTtl, serializer)',
  });
  assert.equal(new NullCache({ defaultTtl: 5, serializer: undefined }).defaultTtl, 5);
});

Deno.test("MemoryCache and NullCache reject options that are not an object, naming the class", () => {
  assert.throws(() => new MemoryCache(null as never), {
    name: "TypeError",
    message: "Cannot create MemoryCache: options must be an object, received null",
  });
  assert.throws(() => new MemoryCache("memory://u:pw@x" as never), {
    name: "TypeError",
    message: "Cannot create MemoryCache: options must be an object, received string",
  });
  assert.throws(() => new NullCache(null as never), {
    name: "TypeError",
    message: "Cannot create NullCache: options must be an object, received null",
  });
});
