/**
 * The conformance suite: one set of cases that checks every line of the
 * cache contract, run against every backend, and the recipe for a new one
 * (`docs/adding_a_backend.md`). Published as `@cachelib/cachelib/testing`.
 *
 * The cases come in groups ({@linkcode CONFORMANCE_CASES}): `basics`, `keys`,
 * `values`, `ttl`, `batch`, `counters`, `clear`, `errors`, `concurrency`,
 * `getOrSet`, `memoize`, `serializer`, `unreadable`, `stats`, `close`, `ttlOps`. A
 * backend declares its quirks (second-granularity ttls, a server-owned clock,
 * no atomic operations, storing nothing, a `clear()` that empties the whole
 * store) instead of skipping cases; what cannot apply is skipped by typed id
 * (`"ttl.default"`) or by group (`"counters"`), always with its reason. A
 * misspelled id is a type error, and a run-time `TypeError` for untyped
 * callers.
 *
 * @example Prove a backend conforms
 * ```ts ignore
 * import { runConformance } from "@cachelib/cachelib/testing";
 * import { MemoryCache } from "@cachelib/cachelib";
 *
 * Deno.test("MemoryCache conforms", async (t) => {
 *   await runConformance(t, {
 *     name: "MemoryCache",
 *     make: ({ defaultTtl, now }) => new MemoryCache({ defaultTtl, now }),
 *   });
 * });
 * ```
 *
 * @example Skip what a backend cannot do, with the reason
 * ```ts ignore
 * import { runConformance } from "@cachelib/cachelib/testing";
 * import { MemoryCache } from "@cachelib/cachelib";
 *
 * Deno.test("MemoryCache(clone: false) conforms", async (t) => {
 *   await runConformance(t, {
 *     name: "MemoryCache(clone: false)",
 *     make: ({ defaultTtl, now }) => new MemoryCache({ defaultTtl, now, clone: false }),
 *     skip: [{ reason: "clone: false stores references by design", cases: ["values.copy"] }],
 *   });
 * });
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type Cache,
  CacheError,
  type CacheStats,
  CacheTimeoutError,
  CacheUnsupportedError,
  SerializationError,
} from "./cache.ts";
import type { ProduceContext } from "./backends/_get_or_set.ts";
import type { Serializer } from "./serializers/serializer.ts";
import { defaultSerializer } from "./serializers/default.ts";
import { compressed } from "./serializers/compressed.ts";
import { encrypted } from "./serializers/encrypted.ts";
import { memoize, memoized } from "./memoize.ts";

/**
 * Every case of the suite by group: `CONFORMANCE_CASES[group][id]` is the step name the case
 * runs under. A case is named `"group.id"` in {@linkcode ConformanceSkip}.
 *
 * @example Every case id
 * ```ts
 * import { CONFORMANCE_CASES } from "@cachelib/cachelib/testing";
 * import assert from "node:assert/strict";
 *
 * const ids = Object.entries(CONFORMANCE_CASES)
 *   .flatMap(([group, cases]) => Object.keys(cases).map((id) => `${group}.${id}`));
 * assert.ok(ids.includes("clear.isolation"));
 * assert.equal(CONFORMANCE_CASES.ttl.default, "the default ttl is 300 000 ms");
 * ```
 */
export const CONFORMANCE_CASES = {
  basics: {
    missing: "get() resolves to undefined for a missing key",
    overwrite: "set() overwrites a live key",
    add: "add() stores only when the key is absent",
    delete: "delete() and deleteMany() report what they removed",
    has: "has() tells live entries from misses, falsy values included",
  },
  keys: {
    awkward: "set() then get() round-trips every awkward key",
    distinct: "distinct keys are distinct entries, lone surrogates included",
  },
  values: {
    awkward: "set() then get() round-trips every awkward value",
    copy: "a value read back is a copy, not an alias",
    errorNames:
      "an Error named like an Object.prototype member reads back as structuredClone gives it",
  },
  ttl: {
    expiry: "entries expire after their ttl, and expired entries are never returned",
    default: "the default ttl is 300 000 ms",
  },
  batch: {
    getMany: "getMany() and getDict() keep order and duplicates",
    setMany: "setMany() takes a record or an iterable and returns the stored keys",
  },
  counters: {
    count: "inc() and dec() count from 0, exactly, also below zero",
    badInput: "inc() rejects non-integer values and deltas with a TypeError",
  },
  clear: {
    all: "clear() removes every entry and returns true",
    isolation: "clear() removes only this cache's entries",
  },
  errors: {
    badKeys: "bad keys are a TypeError naming the operation and the key",
    badTtls: "bad ttls are a RangeError or TypeError and store nothing",
    badValues: "values that cannot be stored are typed errors naming the key",
    uncloneable:
      "values structuredClone refuses are SerializationErrors at set(), and nothing is stored",
  },
  concurrency: {
    mixed: "200 concurrent mixed operations leave a consistent state",
  },
  getOrSet: {
    shared: "getOrSet() returns the cached value, else produces, stores and shares one call",
  },
  memoize: {
    prefixes:
      "memoize refuses a second function under a used prefix; two classes' methods never collide",
  },
  serializer: {
    everyValue: "a custom serializer carries every value set/add/setMany store",
    async:
      "an asynchronous serializer (encrypted(compressed(defaultSerializer))) carries every call",
    ownsBytes: "a serializer that reuses its output buffer cannot change stored values",
    badOutput:
      "a serializer returning no Uint8Array, or throwing a non-Error, is a SerializationError naming the key",
  },
  unreadable: {
    oneAnswer: "an unreadable entry gives one answer in every method",
  },
  stats: {
    counts: "stats() counts hits, misses, sets and deletes",
  },
  close: {
    idempotent: "close() is idempotent, works with await using, and later calls reject",
  },
  ttlOps: {
    ttl:
      "ttl() gives the remaining ms of a live key, 0 for never, undefined for missing and expired keys",
    touch:
      "touch() sets a new expiry from now (extending, shortening, never) and is false for a missing or expired key",
    keys: "keys() lists this cache's live keys, with and without a prefix, glob characters literal",
    keysScope: "keys() never yields another namespace's keys or the backend's own bookkeeping",
    checks: "ttl(), touch() and keys() check their arguments and reject once the cache is closed",
    unsupported:
      "an operation declared unsupported rejects with CacheUnsupportedError giving the reason; the others work",
  },
  production: {
    staleWhileRevalidate:
      "getOrSet() serves a value within staleWhileRevalidate at once and refreshes it once in the background",
    grace:
      "getOrSet() serves a value within grace when produce fails or times out, keeps it and reports the failure",
    timeouts:
      "getOrSet() rejects with CacheTimeoutError past the hard timeout, aborting the producer; past soft a stale value is served",
    refreshAhead: "a getOrSet() hit near expiry starts one background refresh",
    context:
      "the producer sees its key, signal and stale value, and can skip caching or set the ttl",
    plainReads:
      "plain reads open getOrSet's entries: a fresh one is its value, a stale one is a miss for get, getMany, has and inc",
  },
  tags: {
    setGet: "set(key, value, { ttl, tags }) then get(), has() and getOrSet() give the value",
    invalidate: "invalidateTags() drops the entries of those tags only; untagged entries stay",
    getMany:
      "getMany() and getDict() of tagged, untagged and missing keys give each its own answer",
    ttlForms:
      "the ttl-number form still works, and { ttl } expires like it; add and setMany take tags",
    badTags: "bad tags and unknown options are a TypeError naming the call, and store nothing",
  },
  // ---- Session 2 (gos): getOrSet with tags, entries no read returns, stats of stale reads ----
  deadEntries: {
    getOrSetTags:
      "getOrSet() stores with its tags (or the producer's); an invalidated entry is never served, not even stale",
    oneAnswer:
      "a stale getOrSet entry or an invalidated tagged entry is absent for get, has, getMany, inc, ttl and touch",
    add:
      "add() over a stale getOrSet entry or an invalidated tagged entry stores; over a fresh one it does not",
    concurrentAdd:
      "of 10 concurrent add() calls over a stale or invalidated entry exactly one stores",
    stats:
      "stats() counts a stale or invalidated read as a miss, a stale value getOrSet serves too, and no tag-version read",
    // ---- Session 2, round 2 (rdead) ----
    writesBetween:
      "a write landing between what inc, touch or add read of a dead or getOrSet entry and their own write is kept",
    // ---- end of Session 2, round 2 (rdead) ----
  },
  // ---- end of Session 2 (gos) ----
} as const;

/** A group of cases, e.g. `"counters"`: a backend can skip a whole group, with its reason. */
export type ConformanceGroup = keyof typeof CONFORMANCE_CASES;

/** One case, as `"group.id"`, e.g. `"ttl.default"`: a misspelled id is a type error. */
export type ConformanceCase = {
  [G in ConformanceGroup]: `${G}.${keyof (typeof CONFORMANCE_CASES)[G] & string}`;
}[ConformanceGroup];

/** Groups and cases that do not apply to a backend, and why. */
export interface ConformanceSkip {
  /** Why they do not apply; shown in the step name. Must not be empty. */
  reason: string;
  /** Whole groups, e.g. `["counters"]`. */
  groups?: readonly ConformanceGroup[] | undefined;
  /** Single cases, e.g. `["values.copy"]`. */
  cases?: readonly ConformanceCase[] | undefined;
}

/** What a backend cannot do the way the contract's default assumes. */
export interface ConformanceQuirks {
  /** `"seconds"`: ttls are rounded up to whole seconds (memcached, uWSGI). Default `"ms"`. */
  ttlGranularity?: "ms" | "seconds" | undefined;
  /** `"server"`: a server owns the clock, so the suite waits in real time. Default `"injected"`. */
  clock?: "injected" | "server" | undefined;
  /** `false` for a backend that stores nothing (NullCache). Default `true`. */
  stores?: boolean | undefined;
  /** `false` when concurrent `add`/`inc` cannot be atomic (uWSGI). Default `true`. */
  atomic?: boolean | undefined;
  /**
   * `true` for a backend that stores bytes through a `serializer` option: the suite then
   * passes `make` a serializer and checks that every value goes through it. Default `false`.
   */
  serializes?: boolean | undefined;
  /**
   * `"store"`: `clear()` empties the whole store, other caches' entries included (uWSGI's
   * named cache, Redis `FLUSHDB` without a `keyPrefix`, memcached `flush_all` without one);
   * the `clear.isolation` case then checks that it does. Default `"namespace"`: `clear()`
   * removes only this cache's entries.
   */
  clearScope?: "namespace" | "store" | undefined;
  /**
   * The TTL operations this backend cannot do, each with its reason, which must appear in the
   * message of the {@linkcode CacheUnsupportedError} the operation rejects with (memcached
   * cannot list keys). The `ttlOps.unsupported` case checks both directions: a declared
   * operation rejects so, an undeclared one works. Default: all three supported.
   */
  unsupported?: {
    ttl?: string | undefined;
    touch?: string | undefined;
    keys?: string | undefined;
  } | undefined;
}

/** Options for the cache a case asks the factory for. */
export interface MakeOptions {
  /** The default ttl in ms; `undefined` means the backend's default. */
  defaultTtl?: number | undefined;
  /** The suite's clock; backends with an injectable clock must use it. */
  now: () => number;
  /**
   * A serializer the cache must store every value through (only passed when the backend
   * declares `quirks.serializes`).
   */
  serializer?: Serializer | undefined;
}

/** How to run the suite against one backend. */
export interface ConformanceOptions {
  /** The backend's name, used in step names. */
  name: string;
  /** Makes a fresh, empty cache (for a server backend: a fresh key prefix). */
  make(options: MakeOptions): Cache | Promise<Cache>;
  /**
   * Makes a second cache over the same store as `cache`, in another namespace (another key
   * prefix, directory, KV prefix), for the `clear.isolation` case. Omit it when every `make`
   * call already gives a new namespace over one shared store (a random prefix on one server):
   * the suite then calls `make` again.
   */
  makeSibling?: ((cache: Cache, options: MakeOptions) => Cache | Promise<Cache>) | undefined;
  /** Declared differences; see {@linkcode ConformanceQuirks}. */
  quirks?: ConformanceQuirks | undefined;
  /**
   * Plants, under `key` of a cache made by `make`, an entry this backend cannot read back,
   * and says which kind it is. Broken (resolves to nothing): damage to the backend's own
   * storage format (missing chunks, a bad checksum) — a miss for every method. `"foreign"`:
   * an intact item that is not this cache's data (a Redis key of another type, an item
   * another client wrote) — reads and `inc` reject with `SerializationError`, `has` is true,
   * `add` false, `delete` removes it, `set` replaces it. Either way, one answer in every
   * method. Omit when nothing can be planted.
   */
  corrupt?: ((cache: Cache, key: string) => Promise<void | "foreign">) | undefined;
  /** Groups and cases that do not apply, each with its reason (typed ids, checked at run time). */
  skip?: readonly ConformanceSkip[] | undefined;
}

/** Keys every backend must round-trip. */
export const AWKWARD_KEYS: readonly string[] = [
  "",
  " ",
  "plain",
  "with space",
  "line\nbreak\r\n",
  "tab\tand\u0000nul",
  "unicode ✓ ключ 鍵 🔑",
  "__proto__",
  "constructor",
  "a/b/../../c",
  "x".repeat(250),
  "k".repeat(10_000),
];

function cyclic(): Record<string, unknown> {
  const o: Record<string, unknown> = { name: "loop" };
  o.self = o;
  o.list = [o, { back: o }];
  return o;
}

/** Values every backend must round-trip, by description. */
export function awkwardValues(): [string, unknown][] {
  return [
    ["null", null],
    ["false", false],
    ["true", true],
    ["0", 0],
    ["-0", -0],
    ["negative float", -12.5],
    ["NaN", NaN],
    ["max safe integer", Number.MAX_SAFE_INTEGER],
    ["empty string", ""],
    ["unicode string", "ünï©ødé 🔑"],
    ["1 MiB string", "v".repeat(1 << 20)],
    ["digit string", "42"],
    ["empty object", {}],
    ["empty array", []],
    ["nested", { a: [1, { b: [true, null, "x"] }], c: { d: { e: -1 } } }],
    ["object with __proto__ key", JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}')],
    ["object with undefined field", { a: undefined, b: 1 }],
    ["Date", new Date("2024-02-29T12:34:56.789Z")],
    ["Map", new Map<unknown, unknown>([["a", 1], [2, { b: [3] }]])],
    ["Set", new Set([1, "two", 3n])],
    ["BigInt", 2n ** 80n],
    ["negative BigInt", -(2n ** 70n)],
    ["Uint8Array", new Uint8Array([0, 1, 254, 255])],
    ["Float64Array", new Float64Array([1.5, -0, Infinity])],
    ["RegExp", /^a+b*$/gi],
    ["array with holes", [1, , 3]],
    ["cyclic", cyclic()],
  ];
}

/** A clock the suite moves by hand. */
class FakeClock {
  #t = Date.now();
  now = (): number => this.#t;
  advance(ms: number): void {
    this.#t += ms;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What every group's cases share: the backend's options and what its quirks imply. */
interface Suite {
  options: ConformanceOptions;
  stores: boolean;
  atomic: boolean;
  serverClock: boolean;
  /** A ttl short enough to wait for. */
  short: number;
  /** How long to wait for `short` to pass. */
  pastShort: number;
  /** Lets `ms` pass: on the fake clock, or in real time when a server owns the clock. */
  pass(clock: FakeClock, ms: number): Promise<void>;
}

/** One case: its body runs on a fresh cache made with `make`, closed afterwards. */
interface Case {
  run(cache: Cache, clock: FakeClock): Promise<void>;
  /** What the case asks `make` for besides the clock. */
  make?: Omit<MakeOptions, "now">;
  /** Why the case cannot apply to this backend, when it cannot. */
  unless?: string | undefined;
}

/** A group's cases, one per id of {@linkcode CONFORMANCE_CASES} (no more, no fewer). */
type Cases<G extends ConformanceGroup> = { [C in keyof (typeof CONFORMANCE_CASES)[G]]: Case };

function basics({ stores }: Suite): Cases<"basics"> {
  return {
    missing: {
      run: async (cache) => {
        assert.equal(await cache.get("missing"), undefined);
        assert.equal(await cache.has("missing"), false);
      },
    },
    overwrite: {
      run: async (cache) => {
        assert.equal(await cache.set("k", "one"), true);
        assert.equal(await cache.set("k", { two: 2 }), true);
        assert.deepStrictEqual(await cache.get("k"), stores ? { two: 2 } : undefined);
      },
    },
    add: {
      run: async (cache) => {
        assert.equal(await cache.add("k", "first"), true);
        assert.equal(await cache.add("k", "second"), !stores);
        assert.equal(await cache.get("k"), stores ? "first" : undefined);
        await cache.set("falsy", 0);
        assert.equal(await cache.add("falsy", 1), !stores, "a stored 0 is a live entry");
      },
    },
    delete: {
      run: async (cache) => {
        await cache.setMany({ a: 1, b: 2, c: 3 });
        assert.equal(await cache.delete("a"), stores);
        assert.equal(await cache.delete("a"), false);
        assert.equal(await cache.get("a"), undefined);
        assert.deepEqual(
          await cache.deleteMany(["b", "missing", "b", "c"]),
          stores ? ["b", "c"] : [],
        );
        assert.deepEqual(await cache.getMany(["b", "c"]), [undefined, undefined]);
        assert.deepEqual(await cache.deleteMany([]), []);
      },
    },
    has: {
      run: async (cache) => {
        for (
          const [key, value] of [["zero", 0], ["false", false], ["empty", ""], [
            "null",
            null,
          ]] as const
        ) {
          await cache.set(key, value);
          assert.equal(await cache.has(key), stores, key);
        }
        assert.equal(await cache.has("missing"), false);
      },
    },
  };
}

function keys({ stores }: Suite): Cases<"keys"> {
  return {
    awkward: {
      run: async (cache) => {
        for (const [i, key] of AWKWARD_KEYS.entries()) {
          assert.equal(await cache.set(key, i), true, `set ${JSON.stringify(key.slice(0, 20))}`);
        }
        for (const [i, key] of AWKWARD_KEYS.entries()) {
          assert.equal(
            await cache.get(key),
            stores ? i : undefined,
            `key #${i} ${JSON.stringify(key.slice(0, 20))}`,
          );
          assert.equal(await cache.has(key), stores);
        }
        if (stores) {
          assert.deepEqual(await cache.getMany(AWKWARD_KEYS), AWKWARD_KEYS.map((_, i) => i));
          assert.equal(await cache.get("x".repeat(251)), undefined, "a longer key is another key");
        }
      },
    },
    distinct: {
      run: async (cache) => {
        // U+FFFD and "?" are what lossy encoders put in place of a lone surrogate
        const keys = [
          ...new Set([
            "\uD800",
            "\uFFFD",
            "\uDC00",
            "\uDBFF",
            "\uDFFF",
            "?",
            "a\uD800b",
            "a\uFFFDb",
            "a\uDC00b",
            "a?b",
            "\uD800\uD800",
            "\uFFFD\uFFFD",
            "\uDC00\uD800",
            "\u{10000}",
            "\uD800\uDC00x",
            "\uD800x\uDC00",
            "\uEDA0\u8080",
            "\u00ED\u00A0\u0080",
          ]),
        ];
        for (const [i, key] of keys.entries()) assert.equal(await cache.set(key, i), true);
        const v = (x: unknown) => (stores ? x : undefined);
        for (const [i, key] of keys.entries()) {
          assert.equal(await cache.get(key), v(i), `key ${JSON.stringify(key)}`);
        }
        assert.deepEqual(await cache.getMany(keys), keys.map((_, i) => v(i)));
        assert.equal(await cache.delete("\uD800"), stores);
        assert.equal(await cache.has("\uD800"), false);
        assert.equal(await cache.get("\uFFFD"), v(1), "deleting a lone surrogate keeps U+FFFD");
        assert.equal(await cache.add("\uD800", "again"), true);
        assert.equal(await cache.add("\uFFFD", "no"), !stores);
        assert.equal(await cache.inc("a\uD800b"), stores ? 7 : 1);
        assert.equal(await cache.get("a\uFFFDb"), v(7), "inc of one key leaves the other");
      },
    },
  };
}

function values({ stores }: Suite): Cases<"values"> {
  return {
    awkward: {
      run: async (cache) => {
        for (const [name, value] of awkwardValues()) {
          assert.equal(await cache.set(name, value), true, `set ${name}`);
          const back = await cache.get(name);
          if (stores) assert.deepStrictEqual(back, value, `value ${name}`);
          else assert.equal(back, undefined);
        }
        if (stores) {
          const back = await cache.get<Record<string, unknown>>("cyclic");
          assert.equal(back?.self, back, "a cycle stays a cycle");
          const proto = await cache.get<object>("object with __proto__ key");
          assert.equal(
            Object.getPrototypeOf(proto),
            Object.prototype,
            "__proto__ stays a plain key",
          );
          assert.equal(({} as Record<string, unknown>).polluted, undefined);
        }
      },
    },
    copy: {
      run: async (cache) => {
        const original = { list: [1, 2], when: new Date(0), tags: new Set(["a"]) };
        await cache.set("obj", original);
        original.list.push(3);
        original.tags.add("b");
        const first = await cache.get<typeof original>("obj");
        if (!stores) return assert.equal(first, undefined);
        assert.deepStrictEqual(first?.list, [1, 2]);
        first!.list.push(99);
        first!.tags.add("z");
        const second = await cache.get<typeof original>("obj");
        assert.deepStrictEqual(second?.list, [1, 2]);
        assert.deepStrictEqual(second?.tags, new Set(["a"]));
        assert.notEqual(first, second);
      },
    },
    errorNames: {
      run: async (cache) => {
        for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
          const error = new Error(`named ${name}`, { cause: "why" });
          error.name = name;
          assert.equal(await cache.set(name, { error }), true);
          const back = await cache.get<{ error: Error }>(name);
          if (!stores) {
            assert.equal(back, undefined);
            continue;
          }
          assert.ok(back?.error instanceof Error, `${name} reads back`);
          assert.equal(back.error.message, `named ${name}`);
          assert.equal(back.error.name, structuredClone(error).name);
          assert.equal(back.error.cause, "why");
        }
      },
    },
  };
}

function ttl({ stores, serverClock, short, pastShort, pass }: Suite): Cases<"ttl"> {
  return {
    expiry: {
      run: async (cache, clock) => {
        await cache.set("default", "d");
        await cache.set("short", "s", short);
        await cache.set("forever", "f", 0);
        await cache.set("long", "l", 3_600_000);
        await cache.add("added", "a");
        await cache.inc("created");
        await cache.set("counter", 5, short);
        assert.equal(await cache.inc("counter", 2), stores ? 7 : 2);
        await cache.set("readd", "old", short);
        await cache.set("redel", "old", short);
        await cache.set("reinc", 100, short);
        if (stores) {
          assert.deepEqual(
            await cache.getMany([
              "default",
              "short",
              "forever",
              "long",
              "added",
              "created",
              "counter",
            ]),
            ["d", "s", "f", "l", "a", 1, 7],
            "all live before the ttl passes",
          );
        }
        if (!serverClock) {
          clock.advance(short - 1);
          if (stores) assert.equal(await cache.get("short"), "s", "still live 1 ms before the ttl");
        }
        await pass(clock, serverClock ? pastShort : 1);
        // the default ttl of these caches is `short` (see makeOptions below)
        assert.equal(await cache.get("short"), undefined);
        assert.equal(await cache.get("default"), undefined, "default ttl applies");
        assert.equal(await cache.get("added"), undefined, "add() uses the default ttl");
        assert.equal(await cache.get("created"), undefined, "inc() creates with the default ttl");
        assert.equal(await cache.get("counter"), undefined, "inc() keeps the existing expiry");
        assert.equal(await cache.has("short"), false);
        assert.deepEqual(await cache.getMany(["short", "default"]), [undefined, undefined]);
        assert.deepEqual(
          [...(await cache.getDict(["short"]))],
          [["short", undefined]],
        );
        assert.equal(await cache.get("forever"), stores ? "f" : undefined, "ttl 0 never expires");
        assert.equal(await cache.get("long"), stores ? "l" : undefined);
        assert.equal(await cache.add("readd", "new"), true, "add() over an expired entry stores");
        assert.equal(await cache.get("readd"), stores ? "new" : undefined);
        assert.equal(await cache.delete("redel"), false, "delete() of an expired entry is false");
        assert.equal(await cache.inc("reinc"), 1, "inc() of an expired entry starts from 0");
        if (!serverClock) {
          clock.advance(10 * 365 * 24 * 3_600_000);
          assert.equal(
            await cache.get("forever"),
            stores ? "f" : undefined,
            "ttl 0 outlives 10 years",
          );
        }
      },
      make: { defaultTtl: short },
    },
    default: {
      run: async (cache, clock) => {
        await cache.set("k", 1);
        await cache.add("a", 1);
        clock.advance(299_999);
        assert.equal(await cache.get("k"), stores ? 1 : undefined);
        assert.equal(await cache.has("a"), stores);
        clock.advance(1);
        assert.equal(await cache.get("k"), undefined);
        assert.equal(await cache.has("a"), false);
      },
      unless: serverClock ? "the server owns the clock and 300 s is too long to wait" : undefined,
    },
  };
}

function batch({ stores, serverClock, short }: Suite): Cases<"batch"> {
  return {
    getMany: {
      run: async (cache) => {
        await cache.set("a", 1);
        await cache.set("b", "two");
        const v = (x: unknown) => (stores ? x : undefined);
        assert.deepEqual(await cache.getMany(["b", "missing", "a", "b"]), [
          v("two"),
          undefined,
          v(1),
          v("two"),
        ]);
        assert.deepEqual(await cache.getMany([]), []);
        const dict = await cache.getDict(["b", "missing", "a"]);
        assert.ok(dict instanceof Map);
        assert.deepEqual([...dict], [["b", v("two")], ["missing", undefined], ["a", v(1)]]);
      },
    },
    setMany: {
      run: async (cache, clock) => {
        assert.deepEqual(await cache.setMany({ a: 1, b: { x: [1] }, "": "empty" }), ["a", "b", ""]);
        assert.deepEqual(await cache.setMany(new Map<string, unknown>([["c", 3], ["d", null]])), [
          "c",
          "d",
        ]);
        assert.deepEqual(await cache.setMany([["e", 5], ["f", 6]], short), ["e", "f"]);
        assert.deepEqual(await cache.setMany([]), []);
        assert.deepEqual(
          await cache.setMany([["g", 1], ["h", 2], ["g", 3]]),
          ["g", "h"],
          "a repeated key is stored once",
        );
        assert.equal(await cache.get("g"), stores ? 3 : undefined, "its last value wins");
        const v = (x: unknown) => (stores ? x : undefined);
        assert.deepEqual(
          await cache.getMany(["a", "b", "", "c", "d", "e", "f"]),
          [1, { x: [1] }, "empty", 3, null, 5, 6].map(v),
        );
        if (!serverClock) {
          clock.advance(short);
          assert.deepEqual(
            await cache.getMany(["a", "e", "f"]),
            [v(1), undefined, undefined],
            "setMany() ttl applies to each entry",
          );
        }
      },
    },
  };
}

function counters({ stores }: Suite): Cases<"counters"> {
  return {
    count: {
      run: async (cache) => {
        assert.equal(await cache.inc("n"), 1);
        assert.equal(await cache.inc("n", 5), stores ? 6 : 5);
        assert.equal(await cache.dec("n", 10), stores ? -4 : -10);
        assert.equal(await cache.dec("m"), -1);
        assert.equal(await cache.dec("m", -3), stores ? 2 : 3);
        assert.equal(await cache.get("n"), stores ? -4 : undefined);
        await cache.set("ten", 10);
        assert.equal(
          await cache.inc("ten"),
          stores ? 11 : 1,
          "inc() works on a number stored by set()",
        );
        assert.equal(await cache.get("ten"), stores ? 11 : undefined);
        assert.equal(await cache.inc("zero", 0), 0);
        await cache.set("big", Number.MAX_SAFE_INTEGER - 1);
        assert.equal(await cache.inc("big"), stores ? Number.MAX_SAFE_INTEGER : 1);
      },
    },
    badInput: {
      run: async (cache) => {
        for (const delta of [1.5, NaN, Infinity, "1", null, 2n ** 60n]) {
          await assert.rejects(
            cache.inc("n", delta as number),
            (e: Error) => e instanceof TypeError && /delta must be a safe integer/.test(e.message),
            `delta ${String(delta)}`,
          );
          await assert.rejects(cache.dec("n", delta as number), TypeError);
        }
        if (!stores) return;
        for (
          const [name, stored] of [["string", "x"], ["float", 1.5], ["object", { n: 1 }], [
            "digits",
            "12",
          ]] as const
        ) {
          await cache.set(name, stored);
          await assert.rejects(
            cache.inc(name),
            (e: Error) =>
              e instanceof TypeError && e.message.includes(`"${name}"`) &&
              /not a safe integer/.test(e.message),
            `stored ${name}`,
          );
          await assert.rejects(
            cache.dec(name, 2),
            (e: Error) =>
              e instanceof TypeError && e.message.startsWith(`Cannot dec key "${name}"`),
            `dec stored ${name}`,
          );
          assert.deepStrictEqual(await cache.get(name), stored, "a failed inc() loses nothing");
        }
        await cache.set("max", Number.MAX_SAFE_INTEGER);
        await assert.rejects(cache.inc("max"), RangeError);
        assert.equal(await cache.get("max"), Number.MAX_SAFE_INTEGER);
      },
    },
  };
}

function clear({ options, stores }: Suite): Cases<"clear"> {
  const clearsStore = options.quirks?.clearScope === "store";
  const makeSibling = options.makeSibling ?? ((_: Cache, o: MakeOptions) => options.make(o));
  return {
    all: {
      run: async (cache) => {
        await cache.setMany({ a: 1, b: 2 });
        assert.equal(await cache.clear(), true);
        assert.deepEqual(await cache.getMany(["a", "b"]), [undefined, undefined]);
        assert.equal(await cache.clear(), true, "clearing an empty cache succeeds");
        assert.equal(await cache.set("a", 3), true, "usable after clear()");
        assert.equal(await cache.get("a"), stores ? 3 : undefined);
      },
    },
    isolation: {
      run: async (cache, clock) => {
        const sibling = await makeSibling(cache, { now: clock.now });
        try {
          const v = (x: unknown) => (stores ? x : undefined);
          if (clearsStore) {
            await cache.set("mine", 1);
            await sibling.set("theirs", 2);
            assert.equal(await sibling.get("theirs"), v(2));
            assert.equal(await cache.clear(), true);
            assert.deepEqual(
              await sibling.getMany(["theirs", "mine"]),
              [undefined, undefined],
              'clearScope: "store" empties the whole store, the sibling\'s entries included',
            );
            assert.equal(await cache.get("mine"), undefined);
            return;
          }
          assert.deepEqual(await cache.setMany({ mine: 1, both: "this" }), ["mine", "both"]);
          assert.deepEqual(await sibling.setMany({ theirs: 2, both: "sibling" }), [
            "theirs",
            "both",
          ]);
          assert.equal(await cache.get("both"), v("this"), "namespaces keep one key apart");
          assert.equal(await sibling.get("both"), v("sibling"));
          assert.equal(await cache.has("theirs"), false, "a sibling's key is not this cache's");
          assert.equal(await cache.clear(), true);
          assert.deepEqual(await cache.getMany(["mine", "both"]), [undefined, undefined]);
          assert.deepEqual(
            await sibling.getMany(["theirs", "both"]),
            [v(2), v("sibling")],
            "the sibling keeps its entries",
          );
          assert.equal(await sibling.has("theirs"), stores);
          assert.equal(await cache.set("mine", 3), true, "usable after clear()");
          assert.equal(await cache.get("mine"), v(3));
          assert.equal(await sibling.get("mine"), undefined);
          assert.equal(await sibling.clear(), true);
          assert.equal(await sibling.get("theirs"), undefined);
          assert.equal(await cache.get("mine"), v(3), "the sibling's clear() spares this cache");
        } finally {
          await sibling.close();
        }
      },
    },
  };
}

function errors({ stores }: Suite): Cases<"errors"> {
  return {
    badKeys: {
      run: async (cache) => {
        for (const key of [1, null, undefined, {}, Symbol("k"), ["a"]]) {
          const bad = key as unknown as string;
          const isKeyError = (e: Error) =>
            e instanceof TypeError && /key must be a string, received/.test(e.message);
          await assert.rejects(cache.get(bad), isKeyError);
          await assert.rejects(cache.set(bad, 1), isKeyError);
          await assert.rejects(cache.add(bad, 1), isKeyError);
          await assert.rejects(cache.delete(bad), isKeyError);
          await assert.rejects(cache.has(bad), isKeyError);
          await assert.rejects(cache.inc(bad), isKeyError);
          await assert.rejects(cache.dec(bad), isKeyError);
          await assert.rejects(cache.getMany([bad]), isKeyError);
          await assert.rejects(cache.getDict(["a", bad]), isKeyError);
          await assert.rejects(cache.deleteMany([bad]), isKeyError);
          await assert.rejects(cache.setMany([[bad, 1]]), isKeyError);
        }
        await assert.rejects(cache.getMany("ab" as unknown as string[]), /keys must be an array/);
        await assert.rejects(cache.setMany(null as unknown as []), /entries must be/);
        await assert.rejects(
          cache.setMany([["a"]] as unknown as []),
          /must be a \[key, value\] pair/,
        );
        await assert.rejects(cache.get(7 as unknown as string), {
          message: "Cannot get: key must be a string, received 7",
        });
      },
    },
    badTtls: {
      run: async (cache) => {
        await cache.set("k", "kept");
        const cases: [unknown, typeof RangeError | typeof TypeError, string][] = [
          [-1, RangeError, "ttl must be a finite number >= 0, received -1"],
          [NaN, RangeError, "received NaN"],
          [Infinity, RangeError, "received Infinity"],
          [-Infinity, RangeError, "received -Infinity"],
          ["10", TypeError, 'ttl must be a number of milliseconds, received "10"'],
          [null, TypeError, "received null"],
          [10n, TypeError, "received 10n"],
        ];
        for (const [ttl, ErrorClass, text] of cases) {
          const bad = ttl as number;
          const matches = (e: Error) =>
            e instanceof ErrorClass && e.message.includes(text) && e.message.includes('"k"');
          await assert.rejects(cache.set("k", "new", bad), matches, `set ttl ${String(ttl)}`);
          await assert.rejects(cache.add("k2", "new", bad), ErrorClass);
          await assert.rejects(cache.setMany({ k: "new" }, bad), ErrorClass);
          await assert.rejects(
            cache.setMany([], bad),
            ErrorClass,
            "an empty batch still checks its ttl",
          );
          await assert.rejects(cache.getOrSet("k3", () => 1, bad), ErrorClass);
        }
        await assert.rejects(cache.set("k", 1, -1), {
          message: 'Cannot set key "k": ttl must be a finite number >= 0, received -1',
        });
        assert.equal(
          await cache.get("k"),
          stores ? "kept" : undefined,
          "a rejected set loses nothing",
        );
        assert.equal(await cache.has("k2"), false);
      },
    },
    badValues: {
      run: async (cache) => {
        await cache.set("k", "kept");
        await assert.rejects(
          cache.set("k", undefined),
          (e: Error) =>
            e instanceof TypeError && e.message.includes('"k"') &&
            /must not be undefined/.test(e.message),
        );
        await assert.rejects(
          cache.set("k", () => 1),
          (e: Error) => e instanceof TypeError && /must not be a function/.test(e.message),
        );
        await assert.rejects(
          cache.set("k", Symbol("s")),
          (e: Error) => e instanceof TypeError && /must not be a symbol/.test(e.message),
        );
        await assert.rejects(cache.add("k", undefined), TypeError);
        await assert.rejects(cache.setMany({ a: 1, k: undefined }), TypeError);
        assert.equal(
          await cache.has("a"),
          false,
          "setMany() checks every entry before storing any",
        );
        if (stores) {
          await assert.rejects(
            cache.set("k", { run() {} }),
            (e: Error) =>
              e instanceof SerializationError && e instanceof CacheError &&
              e.message.includes('"k"'),
          );
          await assert.rejects(cache.set("k", [Symbol("nested")]), SerializationError);
        }
        assert.equal(
          await cache.get("k"),
          stores ? "kept" : undefined,
          "a rejected set loses nothing",
        );
      },
    },
    uncloneable: {
      run: async (cache) => {
        const refused: [string, unknown][] = [
          ["URL", new URL("https://example.com/")],
          ["Headers", new Headers({ a: "b" })],
          ["boxed Symbol", Object(Symbol("s"))],
          ["URL in an object", { link: new URL("https://example.com/") }],
          ["Headers in a Map", new Map([["h", new Headers()]])],
          ["view over shared memory", { v: new Uint8Array(new SharedArrayBuffer(4)) }],
        ];
        for (const [name, value] of refused) {
          if (!stores) {
            assert.equal(await cache.set(name, value), true, "a cache that stores nothing");
            continue;
          }
          await assert.rejects(cache.set(name, value), (e: Error) => {
            assert.ok(e instanceof SerializationError, `${name}: ${e}`);
            assert.match(e.message, new RegExp(`key "${name}"`));
            return true;
          });
          assert.equal(await cache.get(name), undefined, `${name} is not stored`);
          assert.equal(await cache.has(name), false);
        }
      },
    },
  };
}

function concurrency({ stores, atomic }: Suite): Cases<"concurrency"> {
  return {
    mixed: {
      run: async (cache) => {
        const ops: Promise<unknown>[] = [];
        for (let i = 0; i < 50; i++) {
          ops.push(cache.set(`key${i}`, { i }));
          ops.push(cache.inc("counter"));
          ops.push(cache.add("once", i));
          ops.push(cache.get(`key${i}`));
        }
        const results = await Promise.all(ops);
        const adds = results.filter((_, i) => i % 4 === 2);
        if (!stores) return;
        const counter = await cache.get<number>("counter");
        if (atomic) {
          assert.equal(counter, 50, "every inc() counted");
          assert.equal(adds.filter((x) => x === true).length, 1, "exactly one add() won");
        } else {
          assert.ok(typeof counter === "number" && counter >= 1 && counter <= 50);
          assert.ok(adds.some((x) => x === true));
        }
        const values = await cache.getMany(Array.from({ length: 50 }, (_, i) => `key${i}`));
        assert.deepEqual(values, Array.from({ length: 50 }, (_, i) => ({ i })));
        assert.equal(typeof (await cache.get("once")), "number");
      },
    },
  };
}

function getOrSet({ stores }: Suite): Cases<"getOrSet"> {
  return {
    shared: {
      run: async (cache) => {
        let calls = 0;
        const produce = async () => {
          calls++;
          await sleep(5);
          return { made: calls };
        };
        const results = await Promise.all(
          Array.from({ length: 20 }, () => cache.getOrSet("k", produce)),
        );
        assert.equal(calls, 1, "concurrent callers share one produce() call");
        assert.deepEqual(results, Array(20).fill({ made: 1 }));
        assert.deepEqual(await cache.getOrSet("k", produce), stores ? { made: 1 } : { made: 2 });
        for (const falsy of [0, "", false, null]) {
          const key = `falsy:${String(falsy)}`;
          await cache.set(key, falsy);
          let called = false;
          const got = await cache.getOrSet(key, () => {
            called = true;
            return "produced";
          });
          assert.equal(
            got,
            stores ? falsy : "produced",
            `a cached ${JSON.stringify(falsy)} is a hit`,
          );
          assert.equal(called, !stores);
        }
        await assert.rejects(cache.getOrSet("fails", () => Promise.reject(new Error("boom"))), {
          message: "boom",
        });
        assert.equal(
          await cache.getOrSet("fails", () => "second try"),
          "second try",
          "a rejection is not cached",
        );
        await assert.rejects(cache.getOrSet("k", "nope" as unknown as () => 1), TypeError);
      },
    },
  };
}

function memoizeGroup({ stores }: Suite): Cases<"memoize"> {
  return {
    prefixes: {
      run: async (cache) => {
        const users = { load: async (id: number) => await Promise.resolve(`user ${id}`) }.load;
        const orders = { load: async (id: number) => await Promise.resolve(`order ${id}`) }.load;
        const loadUser = memoize(users, { cache });
        assert.throws(() => memoize(orders, { cache }), {
          name: "TypeError",
          message: /prefix "load" is already used on this cache/,
        });
        assert.equal(await loadUser(1), "user 1");
        assert.equal(await memoize(orders, { cache, prefix: "orders" })(1), "order 1");
        class Users {
          @memoized({ cache, ttl: 0 })
          async get(id: number): Promise<string> {
            return await Promise.resolve(`user ${id}`);
          }
        }
        class Orders {
          @memoized({ cache, ttl: 0 })
          async get(id: number): Promise<string> {
            return await Promise.resolve(`order ${id}`);
          }
        }
        for (let round = 0; round < 2; round++) {
          assert.equal(await new Users().get(1), "user 1");
          assert.equal(await new Orders().get(1), "order 1");
        }
        if (stores) {
          assert.equal(await cache.get('Users#get("1")'), "user 1");
          assert.equal(await cache.get('Orders#get("1")'), "order 1");
        }
      },
    },
  };
}

/** `encrypted(compressed(defaultSerializer))` under a key made on first use. */
let sealedInner: Promise<Serializer> | undefined;
const sealed: Serializer = {
  async serialize(value) {
    return await (await sealedSerializer()).serialize(value);
  },
  async deserialize(bytes) {
    // read the bytes before the first await (the backend may reuse them)
    const copy = bytes.slice();
    return await (await sealedSerializer()).deserialize(copy);
  },
};
function sealedSerializer(): Promise<Serializer> {
  return sealedInner ??= crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
    "encrypt",
    "decrypt",
  ]).then((key) => encrypted(compressed(defaultSerializer), key));
}

/** Returns one buffer, rewritten by every call (as a pooled encoder would). */
const reusedBuffer = new Uint8Array(64);
const reusing: Serializer = {
  serialize(value) {
    const text = new TextEncoder().encode(JSON.stringify(value));
    reusedBuffer.set(text);
    return reusedBuffer.subarray(0, text.length);
  },
  deserialize(bytes) {
    return JSON.parse(new TextDecoder().decode(bytes));
  },
};

/** Answers "string" with a string, "array" with a plain array, "throw" by throwing a string. */
const misbehaving: Serializer = {
  serialize(value) {
    if (value === "string") return "bytes" as unknown as Uint8Array;
    if (value === "array") return [1, 2] as unknown as Uint8Array;
    if (value === "promise") return Promise.resolve({ length: 1 } as unknown as Uint8Array);
    if (value === "throw") throw "no";
    return new TextEncoder().encode(JSON.stringify(value));
  },
  deserialize() {
    throw 42;
  },
};

// [redis/memcached: custom serializer for every value]
function serializerGroup({ options }: Suite): Cases<"serializer"> {
  // XORs JSON text behind a 2-byte mark, and counts what it sees
  const MARK = [0xc5, 0x1e];
  let serialized = 0;
  let deserialized = 0;
  const serializer: Serializer = {
    serialize(value) {
      serialized++;
      const text = new TextEncoder().encode(JSON.stringify(value));
      return Uint8Array.from([...MARK, ...text.map((b) => b ^ 0x5a)]);
    },
    deserialize(bytes) {
      if (bytes[0] !== MARK[0] || bytes[1] !== MARK[1]) {
        throw new SerializationError("Cannot deserialize: not marked");
      }
      deserialized++;
      return JSON.parse(new TextDecoder().decode(bytes.subarray(2).map((b) => b ^ 0x5a)));
    },
  };
  return {
    everyValue: {
      unless: options.quirks?.serializes ? undefined : "the backend declares no serializer",
      make: { serializer },
      run: async (cache) => {
        const values: [string, unknown][] = [
          ["text", "my card number 4111 1111 1111 1111"],
          ["empty", ""],
          ["digits", "42"],
          ["int", 42],
          ["zero", 0],
          ["negative", -7],
          ["max", Number.MAX_SAFE_INTEGER],
          ["float", 1.5],
          ["object", { a: [1, "x"], b: null }],
          ["true", true],
        ];
        for (const [key, value] of values) assert.equal(await cache.set(key, value), true);
        assert.equal(serialized, values.length, "set() serializes every value");
        for (const [key, value] of values) {
          assert.deepStrictEqual(await cache.get(key), value, `set ${key}`);
        }
        assert.equal(deserialized, values.length, "get() deserializes every value");
        serialized = 0;
        for (const [key, value] of values) {
          assert.equal(await cache.add(`added:${key}`, value), true);
        }
        assert.equal(serialized, values.length, "add() serializes every value");
        serialized = 0;
        const many = values.map(([key, value]) => [`many:${key}`, value] as const);
        assert.equal((await cache.setMany(many)).length, values.length);
        assert.equal(serialized, values.length, "setMany() serializes every value");
        deserialized = 0;
        assert.deepStrictEqual(
          await cache.getMany([...values.map(([key]) => `added:${key}`), ...many.map(([k]) => k)]),
          // distinct expected objects: node:assert in Deno 2.9 rejects one object expected twice
          [...values, ...values].map(([, value]) => structuredClone(value)),
        );
        assert.equal(deserialized, 2 * values.length, "getMany() deserializes every value");

        // counters: atomic and exact on the same cache
        assert.equal(await cache.inc("n"), 1);
        assert.equal(await cache.inc("n", 5), 6);
        assert.equal(await cache.dec("n", 10), -4);
        assert.equal(await cache.get("n"), -4);
        assert.equal(await cache.inc("int"), 43, "inc() of a number set() stored");
        assert.equal(await cache.get("int"), 43);
        assert.equal(await cache.dec("negative", 3), -10);
        assert.equal(await cache.get("many:zero"), 0);
        assert.equal(await cache.inc("many:zero", 2), 2);
        assert.equal(await cache.get("many:zero"), 2);
        await assert.rejects(cache.inc("max"), RangeError);
        assert.equal(await cache.get("max"), Number.MAX_SAFE_INTEGER);
        for (const key of ["text", "digits", "float", "object"]) {
          await assert.rejects(cache.inc(key), TypeError, `inc of ${key}`);
        }
        assert.equal(await cache.get("digits"), "42", "a failed inc() loses nothing");
        assert.equal(await cache.set("n", 100), true, "set() over a counter");
        assert.equal(await cache.inc("n"), 101);
        const counted = await Promise.all(Array.from({ length: 20 }, () => cache.inc("c")));
        assert.deepEqual(
          counted.sort((a, b) => a - b),
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
        await cache.set("s", 10);
        const mixed = await Promise.all(Array.from({ length: 10 }, () => cache.inc("s")));
        assert.deepEqual(mixed.sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i + 11));
      },
    },
    async: {
      unless: options.quirks?.serializes ? undefined : "the backend declares no serializer",
      make: { serializer: sealed },
      run: async (cache) => {
        const big = { rows: Array.from({ length: 300 }, (_, i) => ({ id: i, at: new Date(i) })) };
        const values: [string, unknown][] = [
          ["text", "my card number 4111 1111 1111 1111"],
          ["int", 42],
          ["map", new Map([[1, new Set(["a"])]])],
          ["big", big],
        ];
        for (const [key, value] of values) assert.equal(await cache.set(key, value), true);
        for (const [key, value] of values) {
          assert.deepStrictEqual(await cache.get(key), value, `set ${key}`);
        }
        assert.equal(await cache.add("text", "other"), false, "add() over a live entry");
        assert.equal(await cache.add("added", { n: 1 }), true);
        assert.deepStrictEqual(await cache.get("added"), { n: 1 });
        const many = values.map(([key, value]) => [`many:${key}`, value] as const);
        assert.equal((await cache.setMany(many)).length, values.length);
        assert.deepStrictEqual(
          await cache.getMany([...many.map(([key]) => key), "absent"]),
          [...values.map(([, value]) => structuredClone(value)), undefined],
        );
        assert.equal(await cache.has("many:big"), true);
        assert.equal(await cache.inc("n", 5), 5);
        assert.equal(await cache.dec("n", 2), 3);
        assert.equal(await cache.inc("int"), 43, "inc() of a number set() stored");
        const counted = await Promise.all(Array.from({ length: 10 }, () => cache.inc("c")));
        assert.deepEqual(
          counted.sort((a, b) => a - b),
          Array.from({ length: 10 }, (_, i) => i + 1),
        );
        assert.equal(await cache.get("c"), 10);
        assert.equal(await cache.getOrSet("made", () => "fresh"), "fresh");
        assert.equal(await cache.get("made"), "fresh");
        assert.equal(await cache.delete("many:big"), true);
        assert.equal(await cache.get("many:big"), undefined);
        await assert.rejects(cache.set("f", { held: new WeakMap() }), (error: Error) => {
          assert.equal(error.name, "SerializationError");
          assert.match(error.message, /"f".*WeakMap/);
          return true;
        });
      },
    },
    ownsBytes: {
      unless: options.quirks?.serializes ? undefined : "the backend declares no serializer",
      make: { serializer: reusing },
      run: async (cache) => {
        // objects: text that does not look numeric (memcached copies numeric-looking bytes anyway)
        const entries = Array.from(
          { length: 20 },
          (_, i) => [`k${i}`, { n: i * 1000 + 7 }] as const,
        );
        assert.equal((await cache.setMany(entries)).length, entries.length);
        await Promise.all(entries.map(([key, value]) => cache.set(`set:${key}`, value)));
        await Promise.all(entries.map(([key, value]) => cache.add(`add:${key}`, value)));
        for (const prefix of ["", "set:", "add:"]) {
          assert.deepStrictEqual(
            await cache.getMany(entries.map(([key]) => prefix + key)),
            entries.map(([, value]) => structuredClone(value)),
            `${prefix || "setMany:"} every value is its own`,
          );
        }
      },
    },
    badOutput: {
      unless: options.quirks?.serializes ? undefined : "the backend declares no serializer",
      make: { serializer: misbehaving },
      run: async (cache) => {
        const named = (pattern: RegExp) => (error: Error) => {
          assert.equal(error.name, "SerializationError");
          assert.ok(error instanceof CacheError);
          assert.match(error.message, pattern);
          return true;
        };
        for (
          const [value, what] of [["string", /returned .*not a Uint8Array/], [
            "array",
            /returned .*not a Uint8Array/,
          ], ["promise", /returned .*not a Uint8Array/]] as const
        ) {
          await assert.rejects(
            cache.set(`bad-${value}`, value),
            named(new RegExp(`"bad-${value}"`)),
          );
          await assert.rejects(cache.set(`bad-${value}`, value), named(what));
          await assert.rejects(cache.add(`bad-${value}`, value), named(/not a Uint8Array/));
          await assert.rejects(
            cache.setMany([[`bad-${value}`, value]]),
            named(new RegExp(`"bad-${value}"`)),
          );
          assert.equal(await cache.has(`bad-${value}`), false, "nothing was stored");
        }
        await assert.rejects(cache.set("thrower", "throw"), named(/"thrower".*threw "?no"?/));
        assert.equal(await cache.set("good", "fine"), true);
        // The entry is intact and the serializer refuses it: a SerializationError naming the key
        // ("one answer per question"); a backend still treating it as a miss answers undefined,
        // but never a raw error or a message "undefined".
        const read = await cache.get("good").then((value) => value, (error: Error) => error);
        if (read !== undefined) named(/"good".*threw 42/)(read as Error);
      },
    },
  };
}

// [one question, one answer: get/getMany/has/add agree on broken entries]
// The rule (docs/design.md, "one answer per question"): an entry the backend cannot read
// back gives one answer in every method. A broken entry (damaged storage format) is a
// miss for every method, as a corrupt file is: reads give `undefined`, `has` false,
// `delete` false, `add` stores, `inc` counts from 0, `set` replaces it. A foreign entry
// (intact, but not this cache's data) is there for every method: reads and `inc` reject
// with `SerializationError`, `has` is true, `add` false, `delete` removes it, `set`
// replaces it. Never an error for one method and a miss for another.
function unreadable({ options, stores }: Suite): Cases<"unreadable"> {
  const corrupt = options.corrupt;
  const plant = async (cache: Cache, key: string) => (await corrupt!(cache, key)) ?? "broken";
  return {
    oneAnswer: {
      unless: !corrupt
        ? "no corrupt hook plants an unreadable entry"
        : !stores
        ? "the backend stores nothing"
        : undefined,
      run: async (cache) => {
        await cache.set("fine", "ok");
        const read = "broken:read";
        const kind = await plant(cache, read);
        if (kind === "broken") {
          assert.equal(await cache.get(read), undefined, "get() of a broken entry");
          assert.deepEqual(
            await cache.getMany(["fine", read, "missing", read]),
            ["ok", undefined, undefined, undefined],
            "getMany() gives undefined at a broken entry's index",
          );
          assert.deepEqual(
            [...(await cache.getDict([read, "fine"]))],
            [[read, undefined], ["fine", "ok"]],
            "getDict()",
          );
          assert.equal(await cache.has(read), false, "has() of a broken entry");
          assert.equal(await cache.get(read), undefined, "reads leave it a miss");
        } else {
          await assert.rejects(cache.get(read), SerializationError, "get() of a foreign entry");
          await assert.rejects(cache.getMany(["fine", read]), SerializationError, "getMany()");
          await assert.rejects(cache.getDict([read]), SerializationError, "getDict()");
          assert.equal(await cache.has(read), true, "has() of a foreign entry");
          await assert.rejects(cache.get(read), SerializationError, "reads leave it there");
        }

        const added = "broken:add";
        assert.equal(await plant(cache, added), kind);
        if (kind === "broken") {
          assert.equal(await cache.add(added, "new"), true, "add() stores over a broken entry");
          assert.equal(await cache.get(added), "new");
          assert.equal(await cache.has(added), true);
        } else {
          assert.equal(await cache.add(added, "new"), false, "add() keeps a foreign entry");
          await assert.rejects(cache.get(added), SerializationError);
        }

        const counted = "broken:inc";
        await plant(cache, counted);
        if (kind === "broken") {
          assert.equal(await cache.inc(counted, 5), 5, "inc() counts a broken entry as 0");
          assert.equal(await cache.get(counted), 5);
          const lowered = "broken:dec";
          await plant(cache, lowered);
          assert.equal(await cache.dec(lowered, 2), -2, "dec() counts a broken entry as 0");
        } else {
          await assert.rejects(
            cache.inc(counted, 5),
            SerializationError,
            "inc() of a foreign entry",
          );
          assert.equal(await cache.has(counted), true, "a refused inc() leaves it there");
        }

        const replaced = "broken:set";
        await plant(cache, replaced);
        assert.equal(await cache.set(replaced, { v: 1 }), true, "set() replaces it");
        assert.deepEqual(await cache.get(replaced), { v: 1 });

        const deleted = "broken:delete";
        await plant(cache, deleted);
        assert.equal(
          await cache.delete(deleted),
          kind === "foreign",
          "delete() removes a foreign entry, and no live entry when broken",
        );
        assert.equal(await cache.get(deleted), undefined);
        assert.equal(await cache.add(deleted, "after"), true);

        const batch = "broken:many";
        await plant(cache, batch);
        assert.deepEqual(await cache.setMany([[batch, 1], ["other", 2]]), [batch, "other"]);
        assert.deepEqual(await cache.getMany([batch, "other"]), [1, 2]);
      },
    },
  };
}

function stats({ stores }: Suite): Cases<"stats"> {
  return {
    counts: {
      run: async (cache) => {
        const before = cache.stats();
        assert.deepEqual(Object.keys(before).sort(), [
          "deletes",
          "evictions",
          "hits",
          "misses",
          "sets",
        ]);
        await cache.set("a", 1);
        await cache.get("a");
        await cache.get("missing");
        await cache.delete("a");
        await cache.getMany(["a", "b"]);
        const after = cache.stats();
        assert.equal(after.sets - before.sets, 1);
        assert.equal(after.hits - before.hits, stores ? 1 : 0);
        assert.equal(after.misses - before.misses, stores ? 3 : 4);
        assert.equal(after.deletes - before.deletes, stores ? 1 : 0);
        after.hits = 1e9;
        assert.notEqual(cache.stats().hits, 1e9, "stats() returns a snapshot");
      },
    },
  };
}

function close({ options }: Suite): Cases<"close"> {
  return {
    idempotent: {
      run: async (cache) => {
        await cache.set("a", 1);
        await cache.close();
        await cache.close();
        await assert.rejects(
          cache.get("a"),
          (e: Error) => e instanceof CacheError && /the cache is closed/.test(e.message),
        );
        await assert.rejects(cache.set("a", 2), CacheError);
        {
          await using scoped = await options.make({ now: Date.now });
          await scoped.set("b", 1);
          assert.equal(typeof scoped[Symbol.asyncDispose], "function");
        }
      },
    },
  };
}

function ttlOps({ options, stores, serverClock, short, pastShort, pass }: Suite): Cases<"ttlOps"> {
  const unsupported = options.quirks?.unsupported ?? {};
  const clearsStore = options.quirks?.clearScope === "store";
  const makeSibling = options.makeSibling ?? ((_: Cache, o: MakeOptions) => options.make(o));
  const sorted = (keys: readonly string[]) => (stores ? [...keys].sort() : []);
  const list = async (cache: Cache, prefix?: string) =>
    (await Array.fromAsync(cache.keys(prefix))).sort();
  const because = (what: string, reason: string | undefined) =>
    reason === undefined ? undefined : `the backend cannot ${what}: ${reason}`;
  return {
    ttl: {
      run: async (cache, clock) => {
        await cache.set("never", "n", 0);
        await cache.set("short", "s", short);
        await cache.set("long", "l", 3_600_000);
        await cache.set("deleted", "d", 3_600_000);
        await cache.delete("deleted");
        assert.equal(await cache.ttl("missing"), undefined, "a missing key has no ttl");
        assert.equal(await cache.ttl("deleted"), undefined, "a deleted key has no ttl");
        if (!stores) {
          for (const key of ["never", "short", "long"]) {
            assert.equal(await cache.ttl(key), undefined, key);
          }
          return;
        }
        assert.equal(await cache.ttl("never"), 0, "0: never expires");
        if (serverClock) {
          const left = (await cache.ttl("short"))!;
          assert.ok(left > 0 && left <= short, `0 < ${left} <= ${short}`);
          const long = (await cache.ttl("long"))!;
          assert.ok(long > 3_600_000 - 60_000 && long <= 3_600_000, `long: ${long}`);
        } else {
          assert.equal(await cache.ttl("short"), short);
          clock.advance(short - 250);
          assert.equal(await cache.ttl("short"), 250);
          assert.equal(await cache.ttl("long"), 3_600_000 - (short - 250));
        }
        await pass(clock, serverClock ? pastShort : 250);
        assert.equal(await cache.ttl("short"), undefined, "an expired key has no ttl");
        assert.equal(await cache.get("short"), undefined);
        assert.equal(await cache.ttl("never"), 0);
        assert.equal(await cache.get("never"), "n", "ttl() changes nothing");
      },
      unless: because("read a ttl", unsupported.ttl),
    },
    touch: {
      run: async (cache, clock) => {
        assert.equal(await cache.touch("missing", 60_000), false);
        assert.equal(await cache.get("missing"), undefined, "touch() creates nothing");
        await cache.set("grow", "g", short);
        await cache.set("shrink", { s: 1 }, 0);
        await cache.set("forever", "f", short);
        await cache.set("gone", "x", short);
        await cache.set("default", "d", 0);
        assert.equal(await cache.touch("grow", 3_600_000), stores, "extend");
        assert.equal(await cache.touch("shrink", short), stores, "shorten");
        assert.equal(await cache.touch("forever", 0), stores, "never expire");
        assert.equal(await cache.touch("default"), stores, "the default ttl");
        if (!stores) return;
        if (unsupported.ttl === undefined) {
          const grow = (await cache.ttl("grow"))!;
          const shrink = (await cache.ttl("shrink"))!;
          assert.ok(grow > 3_600_000 - 60_000 && grow <= 3_600_000, `grow: ${grow}`);
          assert.ok(shrink > 0 && shrink <= short, `shrink: ${shrink}`);
          assert.equal(await cache.ttl("forever"), 0);
          const fallback = (await cache.ttl("default"))!;
          assert.ok(fallback > 7_200_000 - 60_000 && fallback <= 7_200_000, `default: ${fallback}`);
        }
        await pass(clock, serverClock ? pastShort : short);
        assert.equal(await cache.get("grow"), "g", "touch() extended the ttl");
        assert.equal(await cache.get("shrink"), undefined, "touch() shortened the ttl");
        assert.equal(await cache.get("forever"), "f", "touch(key, 0): never expires");
        assert.equal(await cache.get("default"), "d");
        assert.equal(await cache.touch("gone", 3_600_000), false, "an expired key is not live");
        assert.equal(await cache.get("gone"), undefined, "touch() does not revive it");
        if (!serverClock) {
          clock.advance(3_600_000 - short - 1);
          assert.equal(await cache.get("grow"), "g", "live until the new expiry");
          clock.advance(1);
          assert.equal(await cache.get("grow"), undefined, "gone at the new expiry");
          assert.equal(await cache.get("forever"), "f");
        }
      },
      make: { defaultTtl: 7_200_000 },
      unless: because("change a ttl", unsupported.touch),
    },
    keys: {
      run: async (cache, clock) => {
        if (clearsStore) await cache.clear(); // the whole store is this cache's namespace
        const keys = [
          "user:1",
          "user:2",
          "user:[*?]\\",
          "user:\uD800",
          "user:" + "x".repeat(300),
          "order:1",
          "",
          "ключ 🔑",
          "__proto__",
        ];
        for (const [i, key] of keys.entries()) assert.equal(await cache.set(key, i), true);
        await cache.set("expired", 1, short);
        await cache.set("deleted", 1);
        await cache.delete("deleted");
        await pass(clock, serverClock ? pastShort : short);
        assert.deepEqual(
          await list(cache),
          sorted(keys),
          "every live key, no expired or deleted one",
        );
        assert.deepEqual(await list(cache, ""), sorted(keys));
        assert.deepEqual(
          await list(cache, "user:"),
          sorted(keys.filter((key) => key.startsWith("user:"))),
        );
        assert.deepEqual(await list(cache, "user:["), sorted(["user:[*?]\\"]), "[ is literal");
        assert.deepEqual(await list(cache, "user:*"), [], "* is literal");
        assert.deepEqual(await list(cache, "user:?"), [], "? is literal");
        assert.deepEqual(await list(cache, "user:\uD800"), sorted(["user:\uD800"]));
        assert.deepEqual(await list(cache, "nothing"), []);
        const seen: string[] = [];
        for await (const key of cache.keys("order:")) seen.push(key);
        assert.deepEqual(seen, stores ? ["order:1"] : []);
      },
      unless: because("list keys", unsupported.keys),
    },
    keysScope: {
      run: async (cache, clock) => {
        const sibling = await makeSibling(cache, { now: clock.now });
        try {
          if (clearsStore) await cache.clear();
          await cache.set("mine", 1);
          await cache.set("big", "v".repeat(300_000)); // chunked where values are split
          await cache.inc("counter");
          await cache.getOrSet("produced", () => "p");
          await sibling.set("theirs", 2);
          await sibling.set("mine", "sibling's");
          const own = ["big", "counter", "mine", "produced"];
          assert.deepEqual(
            await list(cache),
            sorted(clearsStore ? [...own, "theirs"] : own),
            clearsStore ? 'clearScope: "store" shares one namespace' : "only this cache's keys",
          );
          assert.deepEqual(
            await list(sibling),
            sorted(
              clearsStore ? [...own, "theirs"] : [
                "mine",
                "theirs",
              ],
            ),
          );
        } finally {
          await sibling.close();
        }
      },
      unless: because("list keys", unsupported.keys),
    },
    checks: {
      run: async (cache) => {
        const typeError = (pattern: RegExp) => (e: Error) =>
          e instanceof TypeError && pattern.test(e.message);
        await assert.rejects(cache.ttl(1 as never), typeError(/^Cannot ttl: key must be a string/));
        await assert.rejects(
          cache.touch(null as never, 1),
          typeError(/^Cannot touch: key must be a string, received null/),
        );
        await assert.rejects(cache.touch("k", -1), {
          name: "RangeError",
          message: 'Cannot touch key "k": ttl must be a finite number >= 0, received -1',
        });
        await assert.rejects(cache.touch("k", NaN), RangeError);
        await assert.rejects(cache.touch("k", Infinity), RangeError);
        await assert.rejects(
          cache.touch("k", "5" as never),
          typeError(/^Cannot touch key "k": ttl must be a number of milliseconds/),
        );
        await assert.rejects(
          Array.fromAsync(cache.keys(5 as never)),
          typeError(/^Cannot keys: prefix must be a string, received 5/),
        );
        await cache.close();
        const closed = (e: Error) =>
          e instanceof CacheError && /the cache is closed/.test(e.message);
        await assert.rejects(cache.ttl("k"), closed);
        await assert.rejects(cache.touch("k", 1000), closed);
        await assert.rejects(Array.fromAsync(cache.keys()), closed);
      },
    },
    unsupported: {
      run: async (cache) => {
        await cache.set("k", 1);
        const calls = {
          ttl: () => cache.ttl("k"),
          touch: () => cache.touch("k", 3_600_000),
          keys: () => Array.fromAsync(cache.keys()),
        };
        for (const [op, call] of Object.entries(calls)) {
          const reason = unsupported[op as keyof typeof calls];
          if (reason === undefined) {
            await call(); // resolves: the operation is supported
            continue;
          }
          await assert.rejects(
            call(),
            (e: Error) =>
              e instanceof CacheUnsupportedError && (e as CacheError).op === op &&
              e.message.includes(reason),
            `${op}() is declared unsupported because ${reason}`,
          );
        }
      },
    },
  };
}

const GROUPS: { [G in ConformanceGroup]: (suite: Suite) => Cases<G> } = {
  basics,
  keys,
  values,
  ttl,
  batch,
  counters,
  clear,
  errors,
  concurrency,
  getOrSet,
  memoize: memoizeGroup,
  serializer: serializerGroup,
  unreadable,
  stats,
  close,
  ttlOps,
  production,
  tags: tagsGroup,
  deadEntries,
};

// ---- Session 2 (gos): getOrSet with tags, entries no read returns, stats of stale reads ----

function deadEntries(
  { options, stores, atomic, serverClock, short, pastShort, pass }: Suite,
): Cases<"deadEntries"> {
  const unless = stores ? undefined : "the backend stores nothing, so nothing is ever stale";
  // ttl() and touch() are checked where the backend supports them.
  const ttlOps = options.quirks?.unsupported?.ttl === undefined;
  const touchOps = options.quirks?.unsupported?.touch === undefined;
  const swr = { ttl: short, staleWhileRevalidate: 20 * short };
  const down = () => Promise.reject(new Error("source down"));
  return {
    getOrSetTags: {
      unless,
      run: async (cache, clock) => {
        const options = { ...swr, grace: 20 * short, tags: ["user:1"] };
        assert.equal(await cache.getOrSet("u", () => "v1", options), "v1");
        assert.equal(await cache.get("u"), "v1");
        await cache.invalidateTags(["user:1"]);
        assert.equal(await cache.get("u"), undefined, "stored with its tags");
        assert.equal(await cache.has("u"), false);
        let calls = 0;
        assert.equal(await cache.getOrSet("u", () => (calls++, "v2"), options), "v2");
        assert.equal(calls, 1, "an invalidated entry is a miss for getOrSet");
        // v2 is now stale, within staleWhileRevalidate and grace: invalidated, it is gone.
        await pass(clock, pastShort);
        await cache.invalidateTags(["user:1"]);
        assert.equal(
          await cache.getOrSet("u", () => "v3", options),
          "v3",
          "not served stale within staleWhileRevalidate once invalidated",
        );
        await pass(clock, pastShort);
        await cache.invalidateTags(["user:1"]);
        await assert.rejects(
          cache.getOrSet("u", down, options),
          { message: "source down" },
          "grace does not cover an invalidated entry",
        );
        assert.equal(await cache.get("u"), undefined);
        // The producer sets the tags from its result; they replace the call's.
        const fromRows = (context: ProduceContext<string>) => {
          assert.deepEqual(context.tags, ["list"]);
          context.tags = [...context.tags, "row:7"];
          return "rows";
        };
        assert.equal(await cache.getOrSet("r", fromRows, { tags: ["list"] }), "rows");
        assert.equal(await cache.getOrSet("other", () => "o", { tags: ["row:8"] }), "o");
        await cache.invalidateTags(["row:7"]);
        assert.deepEqual(await cache.getMany(["r", "other"]), [undefined, "o"]);
        assert.equal(
          await cache.getOrSet("p", (context) => (assert.deepEqual(context.tags, []), "plain")),
          "plain",
        );
        await assert.rejects(cache.getOrSet("b", () => 1, { tags: [""] }), {
          name: "TypeError",
          message: /Cannot getOrSet key "b": every tag must be a non-empty string/,
        });
        await assert.rejects(
          cache.getOrSet("b", (context) => (context.tags = [1] as never, 1)),
          { name: "TypeError", message: /Cannot getOrSet key "b": every tag/ },
        );
        assert.equal(await cache.get("b"), undefined, "bad tags store nothing");
      },
    },
    oneAnswer: {
      unless,
      run: async (cache, clock) => {
        assert.equal(await cache.getOrSet("s", () => "old", swr), "old");
        assert.equal(await cache.getOrSet("n", () => 7, swr), 7);
        assert.equal(await cache.getOrSet("t", () => "t", swr), "t");
        await cache.set("x", 5, { ttl: 20 * short, tags: ["gone"] });
        await cache.invalidateTags(["gone"]);
        await pass(clock, pastShort);
        for (const key of ["s", "x"]) {
          assert.equal(await cache.get(key), undefined, key);
          assert.equal(await cache.has(key), false, key);
          if (ttlOps) assert.equal(await cache.ttl(key), undefined, `ttl(${key})`);
        }
        assert.deepEqual(await cache.getMany(["s", "x", "s"]), [undefined, undefined, undefined]);
        if (touchOps) {
          assert.equal(await cache.touch("t", 60_000), false, "touch of a stale entry");
          assert.equal(await cache.touch("x", 60_000), false, "touch of an invalidated entry");
        }
        assert.equal(await cache.get("t"), undefined, "touch revived nothing");
        assert.equal(await cache.inc("n"), 1, "a counter over a stale entry starts from 0");
        assert.equal(await cache.inc("x", 2), 2, "a counter over an invalidated entry too");
        if (!ttlOps || !touchOps) return;
        // A fresh getOrSet entry: ttl() is its logical ttl, touch() gives it a new one.
        assert.equal(await cache.getOrSet("f", () => "f", swr), "f");
        const left = await cache.ttl("f");
        assert.ok(left !== undefined && left > 0 && left <= short, `ttl("f") = ${left}`);
        assert.equal(await cache.touch("f", 3 * short), true);
        await pass(clock, pastShort);
        assert.equal(await cache.get("f"), "f", "touch extended the ttl get obeys");
        assert.equal(await cache.touch("f", 0), true);
        assert.equal(await cache.ttl("f"), 0, "touch(key, 0): never expires");
      },
    },
    add: {
      unless,
      run: async (cache, clock) => {
        assert.equal(await cache.getOrSet("s", () => "old", swr), "old");
        assert.equal(
          await cache.getOrSet("f", () => "fresh", { ttl: 60_000, grace: 60_000 }),
          "fresh",
        );
        await cache.set("x", "tagged", { ttl: 20 * short, tags: ["gone"] });
        await cache.set("y", "kept", { ttl: 20 * short, tags: ["kept"] });
        await cache.invalidateTags(["gone"]);
        assert.equal(await cache.add("x", "new x", { tags: ["gone"] }), true, "over invalidated");
        assert.equal(await cache.get("x"), "new x");
        assert.equal(await cache.add("x", "newer x"), false);
        assert.equal(await cache.add("y", "no"), false, "a live tagged entry stays");
        await pass(clock, pastShort);
        assert.equal(await cache.add("f", "no"), false, "a fresh getOrSet entry stays");
        assert.equal(await cache.get("f"), "fresh");
        assert.equal(await cache.add("s", "new", 60_000), true, "over a stale entry");
        assert.equal(await cache.get("s"), "new");
        assert.equal(await cache.add("s", "newer"), false);
        assert.equal(await cache.getOrSet("s", () => "produced", swr), "new");
        assert.equal(await cache.get("y"), "kept");
      },
    },
    concurrentAdd: {
      unless: unless ?? (atomic ? undefined : "add is not atomic on this backend"),
      run: async (cache, clock) => {
        assert.equal(await cache.getOrSet("s", () => "old", swr), "old");
        await cache.set("x", "tagged", { ttl: 20 * short, tags: ["gone"] });
        await cache.invalidateTags(["gone"]);
        await pass(clock, pastShort);
        for (const key of ["s", "x"]) {
          const added = await Promise.all(
            Array.from({ length: 10 }, (_, i) => cache.add(key, `${key}${i}`)),
          );
          assert.equal(added.filter(Boolean).length, 1, `${key}: ${added}`);
          assert.equal(await cache.get(key), `${key}${added.indexOf(true)}`);
        }
      },
    },
    stats: {
      unless,
      run: async (cache, clock) => {
        const delta = (before: CacheStats) => {
          const now = cache.stats();
          return { hits: now.hits - before.hits, misses: now.misses - before.misses };
        };
        assert.equal(await cache.getOrSet("s", () => "v", swr), "v");
        assert.equal(await cache.getOrSet("w", () => "w", swr), "w");
        await cache.set("t", "tv", { ttl: 20 * short, tags: ["tt"] });
        let before = cache.stats();
        assert.equal(await cache.get("s"), "v");
        assert.equal(await cache.get("t"), "tv");
        assert.deepEqual(await cache.getMany(["t", "s"]), ["tv", "v"]);
        assert.equal(await cache.has("t"), true);
        assert.deepEqual(delta(before), { hits: 5, misses: 0 }, "tag versions are not counted");
        await pass(clock, pastShort);
        before = cache.stats();
        assert.equal(await cache.getOrSet("w", () => "w2", swr), "w", "served stale");
        assert.deepEqual(delta(before), { hits: 0, misses: 1 }, "a stale serve is a miss");
        await eventually("the refresh stores w2", async () => (await cache.get("w")) === "w2");
        await cache.invalidateTags(["tt"]);
        before = cache.stats();
        assert.equal(await cache.get("s"), undefined);
        assert.equal(await cache.get("t"), undefined);
        assert.equal(await cache.has("s"), false);
        assert.equal(await cache.has("t"), false);
        assert.deepEqual(await cache.getMany(["s", "t"]), [undefined, undefined]);
        assert.deepEqual(delta(before), { hits: 0, misses: 6 }, "stale and invalidated: misses");
        if (serverClock) return; // the refreshed entry may expire before the next read
        before = cache.stats();
        assert.equal(await cache.getOrSet("w", () => "w3", swr), "w2");
        assert.deepEqual(delta(before), { hits: 1, misses: 0 }, "a fresh getOrSet read is a hit");
      },
    },
    // ---- Session 2, round 2 (rdead) ----
    writesBetween: {
      unless,
      run: async (cache, clock) => {
        // The write lands inside the call: the cache's own read hook runs it after reading (a
        // layer that reads nothing itself, as TieredCache's `inc`, never runs it: then the call
        // is a plain one). A backend that queues one instance's calls on a key (Deno KV's `add`)
        // runs the write only after the call: the hook waits for it 2 s at most, and then the
        // outcome is not checked (`landed` false).
        const target = cache as unknown as Record<string, (arg: unknown) => unknown>;
        if (typeof target._peek !== "function") return;
        const between = async (
          hook: "_peek" | "_ttl" | "_getMany",
          key: string,
          write: () => Promise<unknown>,
          call: () => Promise<unknown>,
        ): Promise<[unknown, boolean, boolean]> => {
          const original = target[hook]!;
          let [fired, landed] = [false, false];
          let written: Promise<unknown> = Promise.resolve();
          target[hook] = async function (this: unknown, arg: unknown) {
            const result = await original.call(this, arg);
            const hit = arg === key ||
              (Array.isArray(arg) && arg.some((one) => String(one).endsWith(key)));
            if (hit && !fired) {
              fired = true;
              delete target[hook];
              written = write().then(() => (landed = true));
              let timer: ReturnType<typeof setTimeout> | undefined;
              await Promise.race([written, new Promise((r) => (timer = setTimeout(r, 2_000)))]);
              clearTimeout(timer);
            }
            return result;
          };
          try {
            const result = await call();
            return [result, fired, landed];
          } finally {
            delete target[hook];
            await written;
          }
        };
        const fresh = { ttl: 60_000, staleWhileRevalidate: 60_000 };
        for (const key of ["i1", "i2"]) {
          assert.equal(await cache.getOrSet(key, () => "a", swr), "a");
        }
        const tag = "gone-between";
        await cache.set("d", "tagged", { ttl: 20 * short, tags: [tag] });
        await cache.invalidateTags([tag]);
        await pass(clock, pastShort);
        let [result, fired] = await between(
          "_peek",
          "i1",
          () => cache.set("i1", 7),
          () => cache.inc("i1"),
        );
        assert.equal(result, fired ? 8 : 1, "inc counts on a set that landed in between");
        assert.equal(await cache.get("i1"), result);
        [result, fired] = await between(
          "_peek",
          "i2",
          () => cache.inc("i2"),
          () => cache.inc("i2"),
        );
        assert.equal(result, fired ? 2 : 1, "two incs over one dead entry count 2");
        assert.equal(await cache.get("i2"), result);
        let landed;
        [result, fired, landed] = await between(
          "_getMany",
          tag,
          () => cache.delete("d"),
          () => cache.add("d", "mine"),
        );
        if (!fired || landed) {
          assert.equal(result, true, "add to a key emptied while its dead entry was judged");
          assert.equal(await cache.get("d"), "mine");
        }
        if (!touchOps) return;
        assert.equal(await cache.getOrSet("t1", () => "old", fresh), "old");
        assert.equal(await cache.getOrSet("t2", () => "old", fresh), "old");
        [result] = await between(
          "_peek",
          "t1",
          () => cache.set("t1", "new"),
          () => cache.touch("t1", 60_000),
        );
        assert.equal(result, true);
        assert.equal(await cache.get("t1"), "new", "touch wrote back no older value");
        [result, fired] = await between(
          "_ttl",
          "t2",
          () => cache.delete("t2"),
          () => cache.touch("t2", 60_000),
        );
        assert.equal(await cache.get("t2"), fired ? undefined : "old", "touch revived no delete");
      },
    },
    // ---- end of Session 2, round 2 (rdead) ----
  };
}

// ---- end of Session 2 (gos) ----

function tagsGroup({ stores, serverClock, short, pastShort, pass }: Suite): Cases<"tags"> {
  const hit = <T>(value: T) => stores ? value : undefined;
  return {
    setGet: {
      run: async (cache) => {
        assert.equal(
          await cache.set("u", { name: "Ada" }, { ttl: 60_000, tags: ["user:1"] }),
          true,
        );
        assert.deepStrictEqual(await cache.get("u"), hit({ name: "Ada" }));
        assert.equal(await cache.has("u"), stores);
        assert.deepStrictEqual(
          await cache.getOrSet("u", () => "produced"),
          hit({ name: "Ada" }) ?? "produced",
        );
        await cache.set("zero", 0, { tags: ["a", "b", "a"] });
        assert.equal(await cache.get("zero"), hit(0));
      },
    },
    invalidate: {
      run: async (cache) => {
        await cache.set("one", 1, { tags: ["user:1"] });
        await cache.set("both", 2, { tags: ["user:1", "user:2"] });
        await cache.set("two", 3, { tags: ["user:2"] });
        await cache.set("plain", 4);
        await cache.invalidateTags(["user:1", "never-used"]);
        assert.equal(await cache.get("one"), undefined);
        assert.equal(await cache.has("both"), false);
        assert.equal(await cache.get("two"), hit(3));
        assert.equal(await cache.get("plain"), hit(4));
        assert.equal(await cache.getOrSet("one", () => "again"), "again");
        // A tag can be used again after it was invalidated.
        await cache.set("one", 5, { tags: ["user:1"] });
        assert.equal(await cache.get("one"), hit(5));
        await cache.invalidateTags([]);
        assert.equal(await cache.get("one"), hit(5));
      },
    },
    getMany: {
      run: async (cache) => {
        await cache.set("a", "A", { tags: ["t1"] });
        await cache.set("b", "B", { tags: ["t2"] });
        await cache.set("c", "C", { tags: ["t1", "t3"] });
        await cache.set("plain", "P");
        await cache.invalidateTags(["t3"]);
        assert.deepStrictEqual(
          await cache.getMany(["a", "b", "c", "plain", "missing", "a"]),
          stores ? ["A", "B", undefined, "P", undefined, "A"] : Array(6).fill(undefined),
        );
        const dict = await cache.getDict(["b", "c"]);
        assert.deepStrictEqual([...dict], [["b", hit("B")], ["c", undefined]]);
      },
    },
    ttlForms: {
      run: async (cache, clock) => {
        const ttl = serverClock ? short : 1_000;
        await cache.set("n", "number", ttl);
        await cache.set("o", "object", { ttl });
        await cache.set("t", "tagged", { ttl, tags: ["x"] });
        assert.deepStrictEqual(await cache.getMany(["n", "o", "t"]), [
          hit("number"),
          hit("object"),
          hit("tagged"),
        ]);
        await pass(clock, serverClock ? pastShort : 1_001);
        assert.deepStrictEqual(await cache.getMany(["n", "o", "t"]), [
          undefined,
          undefined,
          undefined,
        ]);
        assert.equal(await cache.add("added", 1, { tags: ["x"] }), true);
        assert.equal(await cache.add("added", 2, { tags: ["x"] }), !stores);
        assert.deepStrictEqual(
          await cache.setMany({ m1: 1, m2: 2 }, { tags: ["y"] }),
          ["m1", "m2"],
        );
        assert.deepStrictEqual(await cache.getMany(["added", "m1", "m2"]), [
          hit(1),
          hit(1),
          hit(2),
        ]);
        await cache.invalidateTags(["x", "y"]);
        assert.deepStrictEqual(await cache.getMany(["added", "m1", "m2"]), [
          undefined,
          undefined,
          undefined,
        ]);
      },
    },
    badTags: {
      run: async (cache) => {
        for (const tags of ["user", [""], [1], [null], {}] as unknown[]) {
          await assert.rejects(cache.set("k", 1, { tags } as never), (error: Error) => {
            assert.ok(error instanceof TypeError, String(error));
            assert.match(error.message, /Cannot set key "k": (every tag|tags must)/);
            return true;
          });
          await assert.rejects(cache.invalidateTags(tags as never), (error: Error) => {
            assert.ok(error instanceof TypeError, String(error));
            assert.match(error.message, /Cannot invalidateTags: (every tag|tags must)/);
            return true;
          });
        }
        await assert.rejects(cache.set("k", 1, { tag: ["a"] } as never), {
          name: "TypeError",
          message: /Cannot set key "k": unknown option "tag" \(accepted: tags, ttl\)/,
        });
        await assert.rejects(cache.add("k", 1, { ttl: -1, tags: ["a"] }), RangeError);
        await assert.rejects(cache.setMany({ k: 1 }, { tags: "a" } as never), TypeError);
        assert.equal(await cache.get("k"), undefined);
      },
    },
  };
}

/** Polls `check` every few ms until it holds (a background refresh has landed); fails after ~10 s. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await check()) return;
    await sleep(10);
  }
  assert.fail(`never happened: ${what}`);
}

/** A producer that settles only when its signal aborts, rejecting with the abort reason. */
function hang(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) =>
    signal.addEventListener("abort", () => reject(signal.reason), { once: true })
  );
}

function production({ stores, serverClock, short, pastShort, pass }: Suite): Cases<"production"> {
  const unless = stores ? undefined : "the backend stores nothing, so nothing is ever stale";
  return {
    staleWhileRevalidate: {
      unless,
      run: async (cache, clock) => {
        const options = { ttl: short, staleWhileRevalidate: 20 * short };
        assert.equal(await cache.getOrSet("k", () => "v1", options), "v1");
        await pass(clock, pastShort);
        assert.equal(await cache.get("k"), undefined, "plain get never returns a stale value");
        let calls = 0;
        let stale: unknown;
        let release = () => {};
        const gate = new Promise<void>((resolve) => release = resolve);
        const refresh = async (context: ProduceContext<string>) => {
          calls++;
          stale = context.stale;
          await gate;
          return "v2";
        };
        const served = await Promise.all(
          Array.from({ length: 10 }, () => cache.getOrSet("k", refresh, options)),
        );
        assert.deepEqual(served, Array(10).fill("v1"), "every caller gets the stale value at once");
        assert.equal(calls, 1, "one background refresh however many callers");
        assert.equal(stale, "v1");
        release();
        await eventually("the refresh stores v2", async () => (await cache.get("k")) === "v2");
        assert.equal(await cache.getOrSet("k", refresh, options), "v2");
        assert.equal(calls, 1);
      },
    },
    grace: {
      unless,
      run: async (cache, clock) => {
        const reports: [string, string][] = [];
        const options = {
          ttl: short,
          grace: 20 * short,
          onRefreshError: (error: unknown, info: { kind: string }) =>
            reports.push([(error as Error).name + ": " + (error as Error).message, info.kind]),
        };
        assert.equal(await cache.getOrSet("k", () => "v1", options), "v1");
        await pass(clock, pastShort);
        const down = () => Promise.reject(new Error("source down"));
        assert.equal(await cache.getOrSet("k", down, options), "v1");
        assert.equal(await cache.getOrSet("k", down, options), "v1", "the stale value is kept");
        const timedOut = await cache.getOrSet(
          "k",
          ({ signal }) => hang(signal),
          { ...options, timeout: { hard: 5 } },
        );
        assert.equal(timedOut, "v1");
        assert.deepEqual(reports.slice(0, 2), [
          ["Error: source down", "grace"],
          ["Error: source down", "grace"],
        ]);
        assert.equal(reports[2]?.[1], "grace");
        assert.match(reports[2]?.[0] ?? "", /^CacheTimeoutError: .*"k".*5 ms/);
        await assert.rejects(
          cache.getOrSet("k", () => Promise.reject(new Error("no grace")), { ttl: short }),
          { message: "no grace" },
          "without grace the failure reaches the caller",
        );
        if (!serverClock) {
          clock.advance(20 * short);
          await assert.rejects(cache.getOrSet("k", down, options), { message: "source down" });
        }
        assert.equal(await cache.getOrSet("k", () => "v2", options), "v2");
      },
    },
    timeouts: {
      run: async (cache, clock) => {
        let signal: AbortSignal | undefined;
        await assert.rejects(
          cache.getOrSet("h", (context) => hang(signal = context.signal), {
            ttl: short,
            timeout: { hard: 5 },
          }),
          (error) =>
            error instanceof CacheTimeoutError && error instanceof CacheError &&
            error.message.includes('"h"') && error.message.includes("5 ms"),
        );
        assert.equal(signal?.aborted, true, "the producer's signal is aborted");
        assert.ok(signal?.reason instanceof CacheTimeoutError);
        assert.equal(await cache.get("h"), undefined, "nothing is stored");
        if (!stores) return;
        const options = { ttl: short, grace: 20 * short, timeout: { soft: 5, hard: 60_000 } };
        assert.equal(await cache.getOrSet("s", () => "old", options), "old");
        await pass(clock, pastShort);
        let release = () => {};
        const slow = () => new Promise<string>((resolve) => release = () => resolve("new"));
        assert.equal(await cache.getOrSet("s", slow, options), "old", "past soft: the stale value");
        release();
        await eventually("the refresh stores new", async () => (await cache.get("s")) === "new");
      },
    },
    refreshAhead: {
      unless,
      run: async (cache, clock) => {
        let calls = 0;
        let release = () => {};
        const produce = async () => {
          const n = ++calls;
          if (n > 1) await new Promise<void>((resolve) => release = resolve);
          return `v${n}`;
        };
        const options = { ttl: short, refreshAhead: 0.8 };
        assert.equal(await cache.getOrSet("k", produce, options), "v1");
        assert.equal(await cache.getOrSet("k", produce, options), "v1");
        assert.equal(calls, 1, "an early hit starts no refresh");
        await pass(clock, short / 2);
        const served = await Promise.all(
          Array.from({ length: 5 }, () => cache.getOrSet("k", produce, options)),
        );
        assert.deepEqual(served, Array(5).fill("v1"));
        assert.equal(calls, 2, "one refresh for every hit near expiry");
        release();
        await eventually("the refresh stores v2", async () => (await cache.get("k")) === "v2");
      },
    },
    context: {
      run: async (cache, clock) => {
        let seen: ProduceContext<number> | undefined;
        assert.equal(await cache.getOrSet<number>("c", (context) => (seen = context, 1)), 1);
        assert.equal(seen?.key, "c");
        assert.ok(seen?.signal instanceof AbortSignal);
        assert.equal(seen?.signal.aborted, false);
        assert.equal(seen?.stale, undefined);
        const skipped = (context: ProduceContext<string>) => (context.skip(), "error page");
        assert.equal(await cache.getOrSet("skip", skipped), "error page");
        assert.equal(await cache.get("skip"), undefined, "a skipped result is not stored");
        assert.equal(await cache.getOrSet("skip", () => "page"), "page");
        await assert.rejects(
          cache.getOrSet("bad", (context) => (context.ttl = -1, 1)),
          (error) => error instanceof RangeError && error.message.includes('"bad"'),
        );
        assert.equal(await cache.get("bad"), undefined);
        if (!stores) return;
        const fromResult = (context: ProduceContext<{ maxAge: number }>) => {
          const response = { maxAge: short };
          context.ttl = response.maxAge;
          return response;
        };
        assert.deepEqual(await cache.getOrSet("t", fromResult, { ttl: 0 }), { maxAge: short });
        assert.deepEqual(await cache.get("t"), { maxAge: short });
        await pass(clock, pastShort);
        assert.equal(await cache.get("t"), undefined, "the producer's ttl was used");
      },
    },
    plainReads: {
      unless,
      run: async (cache, clock) => {
        const options = { ttl: short, staleWhileRevalidate: 20 * short, grace: 20 * short };
        assert.deepEqual(await cache.getOrSet("e", () => ({ n: 1 }), options), { n: 1 });
        assert.equal(await cache.getOrSet("n", () => 5, options), 5);
        assert.deepEqual(await cache.get("e"), { n: 1 }, "no envelope leaks");
        assert.deepEqual(await cache.getMany(["e", "n", "x"]), [{ n: 1 }, 5, undefined]);
        assert.deepEqual([...await cache.getDict(["e"])], [["e", { n: 1 }]]);
        assert.equal(await cache.has("e"), true);
        await pass(clock, pastShort);
        assert.equal(await cache.get("e"), undefined);
        assert.deepEqual(await cache.getMany(["e", "n", "x"]), [undefined, undefined, undefined]);
        assert.equal(await cache.has("e"), false);
        assert.equal(await cache.inc("n"), 1, "a counter over a stale entry starts from 0");
        assert.deepEqual(
          await cache.getOrSet("e", () => ({ n: 2 }), options),
          { n: 1 },
          "getOrSet still serves it stale",
        );
        await eventually(
          "the refresh stores { n: 2 }",
          async () => (await cache.get<{ n: number }>("e"))?.n === 2,
        );
      },
    },
  };
}

/** Checks `skip` (ids exist, every entry has a reason) and maps each group or case to its reason. */
function skipReasons(skip: ConformanceOptions["skip"]): Map<string, string> {
  const reasons = new Map<string, string>();
  if (skip === undefined) return reasons;
  if (!Array.isArray(skip)) {
    throw new TypeError(
      `Cannot run the conformance suite: skip must be an array, received ${typeof skip}`,
    );
  }
  for (const entry of skip as readonly ConformanceSkip[]) {
    const reason = entry?.reason;
    const ids = [...(entry?.groups ?? []), ...(entry?.cases ?? [])];
    if (typeof reason !== "string" || reason.trim() === "") {
      throw new TypeError(
        `Cannot run the conformance suite: the skip of ${JSON.stringify(ids)} has no reason`,
      );
    }
    if (ids.length === 0) {
      throw new TypeError(
        `Cannot run the conformance suite: the skip "${reason}" names no group and no case`,
      );
    }
    for (const group of entry.groups ?? []) {
      if (!Object.hasOwn(CONFORMANCE_CASES, group)) {
        throw new TypeError(
          `Cannot run the conformance suite: unknown group ${JSON.stringify(group)} in skip; ` +
            `groups: ${Object.keys(CONFORMANCE_CASES).join(", ")}`,
        );
      }
      reasons.set(group, reason);
    }
    for (const id of entry.cases ?? []) {
      const [group = "", name = ""] = String(id).split(".");
      const cases: Record<string, string> | undefined = Object.hasOwn(CONFORMANCE_CASES, group)
        ? CONFORMANCE_CASES[group as ConformanceGroup]
        : undefined;
      if (cases === undefined || !Object.hasOwn(cases, name) || `${group}.${name}` !== id) {
        throw new TypeError(
          `Cannot run the conformance suite: unknown case ${JSON.stringify(id)} in skip; ` +
            `cases are "group.id" as in CONFORMANCE_CASES, e.g. "ttl.default"`,
        );
      }
      reasons.set(id, reason);
    }
  }
  return reasons;
}

/**
 * Runs every case as a step of `t`, one step per group (see {@linkcode CONFORMANCE_CASES}).
 *
 * @param t The test context the steps belong to.
 * @param options The backend's factory, quirks and skips.
 * @returns When every step has run.
 * @throws {TypeError} When `skip` names an unknown group or case, or a skip has no reason.
 */
export async function runConformance(
  t: Deno.TestContext,
  options: ConformanceOptions,
): Promise<void> {
  const skipped = skipReasons(options.skip);
  const serverClock = options.quirks?.clock === "server";
  const seconds = options.quirks?.ttlGranularity === "seconds";
  // A ttl short enough to wait for, and how long to wait for it to pass.
  // A server that counts whole seconds may expire an entry up to a second early, and a loaded
  // machine may take a while between the writes and the reads that expect them live: a
  // second-granularity backend gets 3 s (at least 2 s of guaranteed life), a ms one 500 ms.
  const suite: Suite = {
    options,
    stores: options.quirks?.stores ?? true,
    atomic: options.quirks?.atomic ?? true,
    serverClock,
    short: serverClock ? (seconds ? 3000 : 500) : 1000,
    pastShort: serverClock ? (seconds ? 4100 : 700) : 1000,
    pass: async (clock, ms) => {
      if (serverClock) await sleep(ms);
      else clock.advance(ms);
    },
  };
  const label = (name: string, reason: string | undefined) =>
    reason === undefined ? name : `${name} (skipped: ${reason})`;

  for (const group of Object.keys(CONFORMANCE_CASES) as ConformanceGroup[]) {
    const groupReason = skipped.get(group);
    const cases = GROUPS[group](suite) as Record<string, Case>;
    await t.step({
      name: label(group, groupReason),
      ignore: groupReason !== undefined,
      fn: async (t) => {
        for (const [id, name] of Object.entries(CONFORMANCE_CASES[group])) {
          const { run, make, unless } = cases[id]!;
          const reason = skipped.get(`${group}.${id}`) ?? unless;
          await t.step({
            name: label(name, reason),
            ignore: reason !== undefined,
            fn: async () => {
              const clock = new FakeClock();
              const cache = await options.make({ ...make, now: clock.now });
              try {
                await run(cache, clock);
              } finally {
                await cache.close();
              }
            },
          });
        }
      },
    });
  }
}
