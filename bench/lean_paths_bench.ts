// Issue 16, "make the existing paths lean", measured side by side:
//  - a memoize hit (number and object argument) against memoizee's promise-mode hit;
//  - the default serializer's decode against JSON.parse / a plain TextDecoder;
//  - what the byte layer's checks cost the default serializer (none: no copy, no await),
//    and what the copy costs a custom serializer;
//  - encrypted(compressed(defaultSerializer)) per KB.
// Command: deno bench --allow-all bench/lean_paths_bench.ts
// Least time per call over interleaved batches (robust on a loaded machine):
//   deno run --allow-all bench/lean_paths_bench.ts --min
// Garbage per memoize hit (a young generation big enough that no scavenge runs in a round):
//   deno run --allow-all --v8-flags=--expose-gc,--min-semi-space-size=256,--max-semi-space-size=256 bench/lean_paths_bench.ts --gc
import memoizee from "npm:memoizee@0.4.17";
import {
  ByteCache,
  compressed,
  defaultSerializer,
  encrypted,
  memoize,
  MemoryCache,
  type Serializer,
} from "../mod.ts";
import { loadLeanBefore } from "./_lean_before.ts";

// "before" rows: memoize.ts, _memo_keys.ts and serializers/default.ts as of this commit (the
// object-argument key reuse, `freeze` and the short-text decoder came after it).
const BEFORE = "beb9516";
const before = await loadLeanBefore(BEFORE);

// --- memoize hit ---------------------------------------------------------------------------
const cache = new MemoryCache({ maxEntries: 1000, defaultTtl: 0 });
const square = memoize(function square(n: number): number {
  return n * n;
}, { cache });
const query = { kind: "user", id: 12, fields: ["name", "email"] };
const search = memoize(function search(q: typeof query, page: number) {
  return { q, page, hits: [1, 2, 3] };
}, { cache });
// memoizee in promise mode, its documented way to memoize async functions; `normalizer`
// keys objects by content (JSON), as memoize does, rather than by identity.
const squareM = memoizee((n: number) => Promise.resolve(n * n), { promise: true });
const searchM = memoizee(
  (q: typeof query, page: number) => Promise.resolve({ q, page, hits: [1, 2, 3] }),
  {
    promise: true,
    normalizer: (args: IArguments) => JSON.stringify([...args]),
  },
);
const searchMId = memoizee(
  (q: typeof query, page: number) => Promise.resolve({ q, page, hits: [1, 2, 3] }),
  {
    promise: true,
    length: 2,
  },
);
const searchFrozen = memoize(function searchFrozen(q: typeof query, page: number) {
  return { q, page, hits: [1, 2, 3] };
}, { cache, freeze: true });
// The same function and argument through the old memoize (its own cache: the key is the same).
const searchBefore = before?.memoize(function search(q: typeof query, page: number) {
  return { q, page, hits: [1, 2, 3] };
}, { cache: new MemoryCache({ maxEntries: 1000, defaultTtl: 0 }) });
// A new argument object per call (an object literal at the call site): no key to reuse.
const fresh = () => ({ kind: "user", id: 12, fields: ["name", "email"] });
await square(12);
await search(query, 1);
await searchFrozen(query, 1);
await searchBefore?.(query, 1);
await squareM(12);
await searchM(query, 1);
await searchMId(query, 1);

// --- serializer decode ---------------------------------------------------------------------
const small = {
  id: 12,
  name: "Ada Lovelace",
  email: "ada@example.com",
  tags: ["a", "b"],
  on: true,
};
const smallText = JSON.stringify(small);
const smallBytes = defaultSerializer.serialize(small);
const accented = { ...small, name: "Zoë Ångström" };
const accentedText = JSON.stringify(accented);
const accentedBytes = defaultSerializer.serialize(accented);
const medium = { ...small, bio: "lorem ipsum ".repeat(20) }; // ~330 bytes: above SHORT_TEXT
const mediumText = JSON.stringify(medium);
const mediumBytes = defaultSerializer.serialize(medium);
const oldSerializer = before?.defaultSerializer;
const megaString = "x".repeat(1_000_000);
const megaBytes = defaultSerializer.serialize(megaString);
const megaUtf8 = new TextEncoder().encode(JSON.stringify(megaString));
const plainDecoder = new TextDecoder();
const fatalDecoder = new TextDecoder("utf-8", { fatal: true });

// --- the byte layer ------------------------------------------------------------------------
/** Exposes `_encode`/`_decode` (the hooks are never called). */
class Probe extends ByteCache {
  encode(value: unknown) {
    return this._encode("set", "k", value);
  }
  decode(bytes: Uint8Array) {
    return this._decode("k", bytes);
  }
  protected _get() {
    return undefined;
  }
  protected _set() {
    return true;
  }
  protected _add() {
    return true;
  }
  protected _delete() {
    return true;
  }
  protected _has() {
    return true;
  }
  protected _clear() {
    return true;
  }
  protected _addToCounter() {
    return 0;
  }
}
const custom: Serializer = {
  serialize: (value) => defaultSerializer.serialize(value),
  deserialize: (bytes) => defaultSerializer.deserialize(bytes),
};
const viaDefault = new Probe();
const viaCustom = new Probe({ serializer: custom });
const kb = (n: number) => ({
  text: "lorem ipsum dolor sit amet ".repeat(Math.ceil(n * 1024 / 27)),
});
const kb1 = kb(1);
const kb64 = kb(64);

const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
  "encrypt",
  "decrypt",
]);
const sealed = encrypted(compressed(defaultSerializer), key);
const gzip = compressed(defaultSerializer);
const aesOnly = encrypted(defaultSerializer, key);
const sealed1 = await sealed.serialize(kb1);
const sealed64 = await sealed.serialize(kb64);

if (Deno.args.includes("--gc")) {
  // Bytes allocated per call: heap growth over N calls with GC forced before and after, and
  // the young generation large enough that nothing is collected in between.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
  const N = 20_000;
  const perHit = async (name: string, hit: () => Promise<unknown>) => {
    for (let i = 0; i < 5_000; i++) await hit(); // warm up
    const samples: number[] = [];
    for (let round = 0; round < 5; round++) {
      gc();
      const before = Deno.memoryUsage().heapUsed;
      for (let i = 0; i < N; i++) await hit();
      const after = Deno.memoryUsage().heapUsed;
      samples.push((after - before) / N);
    }
    samples.sort((a, b) => a - b);
    console.log(`${name}: ${samples[2]!.toFixed(0)} B/hit (median of 5 × ${N})`);
  };
  const one = Promise.resolve(1);
  await perHit("harness floor (await of a settled promise)", () => one);
  await perHit("memoize hit, square(12)", () => square(12));
  await perHit("memoize hit, search({…}, 1)", () => search(query, 1));
  await perHit("memoize hit, freeze: true, search({…}, 1)", () => searchFrozen(query, 1));
  if (searchBefore) {
    await perHit(`before (${BEFORE}): memoize hit, search({…}, 1)`, () => searchBefore(query, 1));
  }
  await perHit("memoize hit, search(fresh object, 1)", () => search(fresh(), 1));
  if (searchBefore) {
    await perHit(`before: memoize hit, search(fresh object, 1)`, () => searchBefore(fresh(), 1));
  }
  await perHit("memoizee hit, squareM(12)", () => squareM(12));
  await perHit("memoizee hit (JSON normalizer), searchM({…}, 1)", () => searchM(query, 1));
  await perHit("raw MemoryCache.get", () => cache.get('square("12")'));
  Deno.exit(0);
}

if (Deno.args.includes("--min")) {
  // Under load (2 shared cores), averages measure the neighbours. The least time per call
  // over many short batches, the candidates interleaved batch by batch, measures the code.
  type Run = [name: string, fn: () => unknown];
  const minimum = async (runs: Run[], batch: number, batches: number) => {
    const best = runs.map(() => Infinity);
    for (let b = 0; b < batches; b++) {
      for (const [i, [, fn]] of runs.entries()) {
        const start = performance.now();
        for (let j = 0; j < batch; j++) {
          const out = fn();
          if (out instanceof Promise) await out;
        }
        best[i] = Math.min(best[i]!, (performance.now() - start) / batch);
      }
    }
    const base = best[0]!;
    for (const [i, [name]] of runs.entries()) {
      const ms = best[i]!;
      const text = ms >= 1
        ? `${ms.toFixed(2)} ms`
        : ms >= 0.001
        ? `${(ms * 1000).toFixed(1)} µs`
        : `${(ms * 1e6).toFixed(0)} ns`;
      console.log(`${name.padEnd(58)} ${text.padStart(10)}  ${(ms / base).toFixed(2)}×`);
    }
    console.log();
  };
  await minimum(
    [
      ["memoizee hit (promise: true), number arg", () => squareM(12)],
      ["memoize hit, square(12)", () => square(12)],
    ],
    2000,
    60,
  );
  await minimum(
    [
      ["memoizee hit (promise, JSON normalizer), object arg", () => searchM(query, 1)],
      ["memoizee hit (promise, by identity), object arg", () => searchMId(query, 1)],
      ["memoize hit, search({…}, 1)", () => search(query, 1)],
      ["memoize hit, freeze: true", () => searchFrozen(query, 1)],
      ...(searchBefore
        ? [[`before (${BEFORE}): memoize hit, search({…}, 1)`, () => searchBefore(query, 1)] as Run]
        : []),
    ],
    2000,
    60,
  );
  let n = 0;
  const distinct = () => ({ kind: "user", id: n++, fields: ["name", "email"] });
  await minimum(
    [
      ["memoize keyFor, new content every call (derived)", () => search.keyFor(distinct(), 1)],
      ...(searchBefore
        ? [
          [
            `before: keyFor, new content every call`,
            () => searchBefore.keyFor(distinct(), 1),
          ] as Run,
        ]
        : []),
    ],
    2000,
    60,
  );
  await minimum(
    [
      ["memoize hit, search(fresh object, 1)", () => search(fresh(), 1)],
      ...(searchBefore
        ? [[`before: memoize hit, search(fresh object, 1)`, () => searchBefore(fresh(), 1)] as Run]
        : []),
    ],
    2000,
    60,
  );
  await minimum(
    [
      ["JSON.parse of the same object", () => JSON.parse(smallText)],
      [
        "defaultSerializer.deserialize (small object)",
        () => defaultSerializer.deserialize(smallBytes),
      ],
      ["before: fatal TextDecoder + JSON.parse", () => JSON.parse(fatalDecoder.decode(smallBytes))],
      ...(oldSerializer
        ? [[`before (${BEFORE}): deserialize`, () => oldSerializer.deserialize(smallBytes)] as Run]
        : []),
    ],
    2000,
    60,
  );
  for (
    const [what, text, bytes] of [
      ["small object, accented names", accentedText, accentedBytes],
      ["~330-byte object", mediumText, mediumBytes],
    ] as const
  ) {
    await minimum(
      [
        [`JSON.parse, ${what}`, () => JSON.parse(text)],
        [`defaultSerializer.deserialize, ${what}`, () => defaultSerializer.deserialize(bytes)],
        ...(oldSerializer
          ? [[`before (${BEFORE}): deserialize`, () => oldSerializer.deserialize(bytes)] as Run]
          : []),
      ],
      2000,
      60,
    );
  }
  await minimum(
    [
      ["plain TextDecoder.decode, 1 MB", () => plainDecoder.decode(megaUtf8)],
      [
        "defaultSerializer.deserialize, 1 MB string",
        () => defaultSerializer.deserialize(megaBytes),
      ],
      ["before: fatal TextDecoder, 1 MB", () => fatalDecoder.decode(megaUtf8)],
      ...(oldSerializer
        ? [
          [
            `before (${BEFORE}): deserialize, 1 MB`,
            () => oldSerializer.deserialize(megaBytes),
          ] as Run,
        ]
        : []),
    ],
    5,
    60,
  );
  await minimum(
    [
      ["defaultSerializer.serialize, 1 KB", () => defaultSerializer.serialize(kb1)],
      ["ByteCache._encode, default serializer (no copy)", () => viaDefault.encode(kb1)],
      ["ByteCache._encode, custom serializer (copied)", () => viaCustom.encode(kb1)],
    ],
    500,
    60,
  );
  await minimum(
    [
      ["defaultSerializer.serialize, 64 KB", () => defaultSerializer.serialize(kb64)],
      ["ByteCache._encode, default serializer (no copy)", () => viaDefault.encode(kb64)],
      ["ByteCache._encode, custom serializer (copied)", () => viaCustom.encode(kb64)],
    ],
    50,
    60,
  );
  await minimum(
    [
      [
        "defaultSerializer.deserialize (small object)",
        () => defaultSerializer.deserialize(smallBytes),
      ],
      ["ByteCache._decode, default serializer", () => viaDefault.decode(smallBytes)],
    ],
    2000,
    60,
  );
  for (const [size, value, bytes] of [["1 KB", kb1, sealed1], ["64 KB", kb64, sealed64]] as const) {
    const trip = (codec: Serializer) => async () =>
      await codec.deserialize(await codec.serialize(value));
    await minimum(
      [
        [`defaultSerializer round trip, ${size}`, trip(defaultSerializer)],
        [`compressed (gzip) round trip, ${size}`, trip(gzip)],
        [`encrypted (AES-GCM) round trip, ${size}`, trip(aesOnly)],
        [`encrypted(compressed) round trip, ${size}`, trip(sealed)],
        [`encrypted(compressed) deserialize only, ${size}`, () => sealed.deserialize(bytes)],
      ],
      size === "1 KB" ? 50 : 10,
      30,
    );
  }
  Deno.exit(0);
}

Deno.bench(
  "memoizee hit (promise: true), number arg",
  { group: "memo number", baseline: true },
  async () => {
    await squareM(12);
  },
);
Deno.bench("memoize hit, square(12)", { group: "memo number" }, async () => {
  await square(12);
});
Deno.bench("memoizee hit (promise, JSON normalizer), object arg", {
  group: "memo object",
  baseline: true,
}, async () => {
  await searchM(query, 1);
});
Deno.bench(
  "memoizee hit (promise, by identity), object arg",
  { group: "memo object" },
  async () => {
    await searchMId(query, 1);
  },
);
Deno.bench("memoize hit, search({…}, 1)", { group: "memo object" }, async () => {
  await search(query, 1);
});

Deno.bench("JSON.parse of the same object", { group: "decode small", baseline: true }, () => {
  JSON.parse(smallText);
});
Deno.bench("defaultSerializer.deserialize (small object)", { group: "decode small" }, () => {
  defaultSerializer.deserialize(smallBytes);
});
Deno.bench("before: fatal TextDecoder + JSON.parse", { group: "decode small" }, () => {
  JSON.parse(fatalDecoder.decode(smallBytes));
});

Deno.bench("plain TextDecoder.decode, 1 MB", { group: "decode 1 MB", baseline: true }, () => {
  plainDecoder.decode(megaUtf8);
});
Deno.bench("defaultSerializer.deserialize, 1 MB string", { group: "decode 1 MB" }, () => {
  defaultSerializer.deserialize(megaBytes);
});
Deno.bench("before: fatal TextDecoder, 1 MB", { group: "decode 1 MB" }, () => {
  fatalDecoder.decode(megaUtf8);
});

Deno.bench("defaultSerializer.serialize, 1 KB", { group: "encode 1 KB", baseline: true }, () => {
  defaultSerializer.serialize(kb1);
});
Deno.bench("ByteCache._encode, default serializer (no copy)", { group: "encode 1 KB" }, () => {
  viaDefault.encode(kb1);
});
Deno.bench("ByteCache._encode, custom serializer (copied)", { group: "encode 1 KB" }, () => {
  viaCustom.encode(kb1);
});
Deno.bench("defaultSerializer.serialize, 64 KB", { group: "encode 64 KB", baseline: true }, () => {
  defaultSerializer.serialize(kb64);
});
Deno.bench("ByteCache._encode, default serializer (no copy)", { group: "encode 64 KB" }, () => {
  viaDefault.encode(kb64);
});
Deno.bench("ByteCache._encode, custom serializer (copied)", { group: "encode 64 KB" }, () => {
  viaCustom.encode(kb64);
});
Deno.bench("defaultSerializer.deserialize, 1 KB", { group: "decode 1 KB", baseline: true }, () => {
  defaultSerializer.deserialize(smallBytes);
});
Deno.bench("ByteCache._decode, default serializer", { group: "decode 1 KB" }, () => {
  viaDefault.decode(smallBytes);
});

for (const [size, value, bytes] of [["1 KB", kb1, sealed1], ["64 KB", kb64, sealed64]] as const) {
  const group = `async ${size}`;
  Deno.bench(`defaultSerializer round trip, ${size}`, { group, baseline: true }, () => {
    defaultSerializer.deserialize(defaultSerializer.serialize(value));
  });
  Deno.bench(`compressed (gzip) round trip, ${size}`, { group }, async () => {
    await gzip.deserialize(await gzip.serialize(value));
  });
  Deno.bench(`encrypted (AES-GCM) round trip, ${size}`, { group }, async () => {
    await aesOnly.deserialize(await aesOnly.serialize(value));
  });
  Deno.bench(`encrypted(compressed) round trip, ${size}`, { group }, async () => {
    await sealed.deserialize(await sealed.serialize(value));
  });
  Deno.bench(`encrypted(compressed) deserialize only, ${size}`, { group }, async () => {
    await sealed.deserialize(bytes);
  });
}
