import assert from "node:assert/strict";
import { recorder } from "./fixtures/recorder.ts";
import { DatabaseSync } from "node:sqlite";
import {
  cacheFromUrl,
  MemoryCache,
  parseCacheUrl,
  registerCacheScheme,
  type SyncSerializer,
} from "@cachelib/cachelib";
import { CONFORMANCE_CASES, type MakeOptions, runConformance } from "@cachelib/cachelib/testing";
import { SqliteCache, sqliteScheme } from "../examples/sqlite_cache.ts";

// The test file docs/adding_a_backend.md describes: the suite, then what is specific.
Deno.test("SqliteCache (examples/) conforms", async (t) => {
  using database = new DatabaseSync(":memory:");
  await runConformance(t, {
    name: "SqliteCache",
    // One database for the whole run: each cache gets its own namespace in it, so a second
    // `make` is a sibling over the same store for the clear.isolation case.
    make: ({ defaultTtl, now, serializer }) =>
      new SqliteCache({
        database,
        namespace: crypto.randomUUID(),
        defaultTtl,
        now,
        serializer: serializer as SyncSerializer | undefined,
      }),
    quirks: {
      serializes: true,
      // the example keeps to the seven required hooks
      unsupported: {
        ttl: "does not implement the _ttl hook",
        touch: "does not implement the _touch hook",
        keys: "does not implement the _keys hook",
      },
    },
    skip: [{
      reason: "SQLite's calls are synchronous: SqliteCache takes a synchronous serializer",
      cases: ["serializer.async"],
    }],
    // A row whose bytes no serializer wrote: intact, but not this cache's data.
    corrupt: (cache, key) => {
      database.prepare("INSERT OR REPLACE INTO cachelib_entries VALUES (?, ?, ?, 0)")
        .run((cache as SqliteCache).scope, JSON.stringify(key), new Uint8Array([0xff, 0, 1]));
      return Promise.resolve("foreign");
    },
  });
});

Deno.test("SqliteCache rejects unknown options, naming the accepted ones", () => {
  assert.throws(() => new SqliteCache({ namspace: "x" } as never), {
    name: "TypeError",
    message:
      'Cannot create SqliteCache: unknown option "namspace" (accepted: database, defaultTtl, namespace, now, path, serializer)',
  });
});

Deno.test("SqliteCache keeps its rows in a file across instances and closes what it opened", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cachelib_sqlite_" });
  try {
    const path = `${dir}/cache.db`;
    {
      await using cache = new SqliteCache({ path, namespace: "n" });
      assert.equal(await cache.set("k", { v: 1 }, 0), true);
    }
    await using again = new SqliteCache({ path, namespace: "n" });
    assert.deepEqual(await again.get("k"), { v: 1 });
    await using other = new SqliteCache({ path, namespace: "other" });
    assert.equal(await other.get("k"), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("registerCacheScheme teaches cacheFromUrl sqlite:// without editing url.ts", async () => {
  assert.throws(() => cacheFromUrl("sqlite://"), {
    name: "TypeError",
    message: /unknown scheme "sqlite"; expected one of memory:\/\/, .*denokv:\/\/$/,
  });
  registerCacheScheme(sqliteScheme);
  const dir = await Deno.makeTempDir({ prefix: "cachelib_sqlite_url_" });
  try {
    const path = `${dir}/c.db`;
    assert.deepEqual(parseCacheUrl(`sqlite://${path}?namespace=n&defaultTtl=1000`), {
      scheme: "sqlite",
      options: { path, namespace: "n", defaultTtl: 1000 },
    });
    {
      await using cache = cacheFromUrl(`sqlite://${path}?namespace=n`, { defaultTtl: 0 });
      assert.ok(cache instanceof SqliteCache);
      assert.equal(await cache.set("k", 1), true);
    }
    await using again = new SqliteCache({ path, namespace: "n" });
    assert.equal(await again.get("k"), 1, "the URL's path and namespace reached the constructor");
    // The generic checks are url.ts's, for the registered scheme too.
    assert.throws(() => parseCacheUrl("sqlite://?nmespace=x"), {
      name: "TypeError",
      message: /unknown parameter "nmespace" for sqlite:\/\/; accepted: namespace, defaultTtl/,
    });
    assert.throws(() => parseCacheUrl("sqlite://host/x.db"), /sqlite:\/\/ takes no host/);
    assert.throws(() => parseCacheUrl("redis+x://h"), /expected one of .*denokv:\/\/, sqlite:\/\//);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // A scheme is registered once, and never over a built-in one (or its alias).
  for (
    const [scheme, why] of [
      ["sqlite", '"sqlite" is already registered'],
      ["memory", '"memory" is a built-in scheme'],
      ["rediss", '"rediss" is a built-in scheme'],
      [
        "Sqlite2",
        'a scheme must be lower-case letters, digits, "+", "-" or ".", received "Sqlite2"',
      ],
    ]
  ) {
    assert.throws(() => registerCacheScheme({ ...sqliteScheme, scheme: scheme as "sqlite" }), {
      name: "TypeError",
      message: `Cannot register cache URL scheme: ${why}`,
    });
  }
});

// The suite's own guarantees: every skip is typed, checked at run time, and carries a reason.
const memory = ({ defaultTtl, now }: MakeOptions) => new MemoryCache({ defaultTtl, now });

Deno.test("runConformance rejects a skip naming an unknown case or group, before any step", async (t) => {
  const unknown: [unknown, RegExp][] = [
    [{ reason: "r", cases: ["basics.mising"] }, /unknown case "basics\.mising" in skip/],
    [{ reason: "r", cases: ["nope.missing"] }, /unknown case "nope\.missing"/],
    [{ reason: "r", cases: ["basics"] }, /unknown case "basics"/],
    [{ reason: "r", cases: ["basics.missing.x"] }, /unknown case "basics\.missing\.x"/],
    [{ reason: "r", cases: ["a value read back is a copy, not an alias"] }, /unknown case/],
    [{ reason: "r", groups: ["counter"] }, /unknown group "counter" in skip; groups: basics, keys/],
    [{ reason: "r", groups: ["toString"] }, /unknown group "toString"/],
    [{ reason: "", cases: ["values.copy"] }, /the skip of \["values\.copy"\] has no reason/],
    [{ cases: ["values.copy"] }, /has no reason/],
    [{ reason: "r" }, /the skip "r" names no group and no case/],
  ];
  for (const [skip, message] of unknown) {
    await assert.rejects(
      runConformance(t, { name: "x", make: memory, skip: [skip as never] }),
      (e: Error) => e instanceof TypeError && message.test(e.message),
      JSON.stringify(skip),
    );
  }
});

Deno.test("a misspelled case or group in skip is a type error", () => {
  const typed = (skip: Parameters<typeof runConformance>[1]["skip"]) => skip;
  // @ts-expect-error: "basics.mising" is not a case id
  typed([{ reason: "r", cases: ["basics.mising"] }]);
  // @ts-expect-error: "counter" is not a group
  typed([{ reason: "r", groups: ["counter"] }]);
  typed([{ reason: "r", cases: ["basics.missing"], groups: ["counters"] }]);
  assert.equal(CONFORMANCE_CASES.clear.isolation, "clear() removes only this cache's entries");
});

Deno.test("runConformance skips a whole group, and a case, with the reason in the step name", async () => {
  const { t, outcomes } = recorder();
  await runConformance(t, {
    name: "MemoryCache",
    make: memory,
    skip: [
      { reason: "counted elsewhere", groups: ["counters"] },
      { reason: "a reason", cases: ["ttl.default"] },
    ],
  });
  assert.ok(outcomes.includes("counters (skipped: counted elsewhere): ignored"));
  assert.ok(!outcomes.some((o) => o.startsWith("counters /")), "a skipped group runs nothing");
  assert.ok(outcomes.includes("ttl / the default ttl is 300 000 ms (skipped: a reason): ignored"));
  assert.ok(outcomes.includes(`ttl / ${CONFORMANCE_CASES.ttl.expiry}: ok`));
  assert.deepEqual(outcomes.filter((o) => o.includes("failed")), []);
});

Deno.test("clear.isolation holds a backend to its declared clearScope", async (t) => {
  using database = new DatabaseSync(":memory:");
  const others = Object.keys(CONFORMANCE_CASES).filter((group) => group !== "clear");
  const run = async (
    sibling: "same namespace" | "own namespace",
    clearScope: "namespace" | "store",
  ) => {
    const { t, outcomes } = recorder();
    await runConformance(t, {
      name: "SqliteCache",
      make: ({ now }) => new SqliteCache({ database, namespace: crypto.randomUUID(), now }),
      // a sibling in the same namespace is what a store-wide clear() looks like
      makeSibling: (cache, { now }) =>
        sibling === "own namespace"
          ? new SqliteCache({ database, namespace: crypto.randomUUID(), now })
          : new SqliteCache({ database, namespace: (cache as SqliteCache).scope, now }),
      quirks: { clearScope },
      skip: [{ reason: "only clear.isolation", groups: others as never[] }],
    });
    return outcomes.find((o) => o.startsWith(`clear / ${CONFORMANCE_CASES.clear.isolation}`));
  };
  const name = CONFORMANCE_CASES.clear.isolation;
  await t.step("a namespaced clear() passes as declared", async () => {
    assert.equal(await run("own namespace", "namespace"), `clear / ${name}: ok`);
  });
  await t.step("a store-wide clear() fails unless declared", async () => {
    assert.match(
      (await run("same namespace", "namespace"))!,
      /: failed: namespaces keep one key apart/,
    );
    assert.equal(await run("same namespace", "store"), `clear / ${name}: ok`);
  });
  await t.step('a namespaced clear() declared "store" fails', async () => {
    assert.match(
      (await run("own namespace", "store"))!,
      /: failed: clearScope: "store" empties the whole store/,
    );
  });
});
