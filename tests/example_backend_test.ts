import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { type Cache, MemoryCache } from "@cachelib/cachelib";
import { CONFORMANCE_CASES, runConformance } from "@cachelib/cachelib/testing";
import { SqliteCache } from "../examples/sqlite_cache.ts";

// The test file docs/adding_a_backend.md describes: the suite, then what is specific.
Deno.test("SqliteCache (examples/) conforms", async (t) => {
  using database = new DatabaseSync(":memory:");
  const namespaces = new WeakMap<Cache, string>();
  await runConformance(t, {
    name: "SqliteCache",
    // One database for the whole run: each cache gets its own namespace in it, so a second
    // `make` is a sibling over the same store for the clear.isolation case.
    make: ({ defaultTtl, now, serializer }) => {
      const namespace = crypto.randomUUID();
      const cache = new SqliteCache({ database, namespace, defaultTtl, now, serializer });
      namespaces.set(cache, namespace);
      return cache;
    },
    quirks: { serializes: true },
    // A row whose bytes no serializer wrote: intact, but not this cache's data.
    corrupt: (cache, key) => {
      database.prepare("INSERT OR REPLACE INTO cachelib_entries VALUES (?, ?, ?, 0)")
        .run(namespaces.get(cache)!, JSON.stringify(key), new Uint8Array([0xff, 0, 1]));
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

// The suite's own guarantees: every skip is typed, checked at run time, and carries a reason.
const memory = () => new MemoryCache();

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

Deno.test("runConformance skips a whole group, and a case, with the reason in the step name", async (t) => {
  const names: string[] = [];
  const recording = new Proxy(t, {
    get(target, property) {
      if (property !== "step") return Reflect.get(target, property);
      return (step: Deno.TestStepDefinition) =>
        target.step({
          ...step,
          fn: (inner) =>
            step.fn(
              new Proxy(inner, {
                get(innerTarget, innerProperty) {
                  if (innerProperty !== "step") return Reflect.get(innerTarget, innerProperty);
                  return (caseStep: Deno.TestStepDefinition) => {
                    names.push(`${step.name} / ${caseStep.name}`);
                    return innerTarget.step({ ...caseStep, ignore: true });
                  };
                },
              }),
            ),
        });
    },
  });
  await runConformance(recording, {
    name: "MemoryCache",
    make: memory,
    skip: [
      { reason: "counted elsewhere", groups: ["counters"] },
      { reason: "a reason", cases: ["ttl.default"] },
    ],
  });
  assert.ok(names.includes("ttl / the default ttl is 300 000 ms (skipped: a reason)"));
  assert.ok(names.includes(`ttl / ${CONFORMANCE_CASES.ttl.expiry}`));
  assert.ok(!names.some((name) => name.startsWith("counters")), "a skipped group runs nothing");
  const groups = new Set(names.map((name) => name.split(" / ")[0]));
  assert.deepEqual(
    [...groups],
    Object.keys(CONFORMANCE_CASES).filter((group) => group !== "counters"),
  );
});
