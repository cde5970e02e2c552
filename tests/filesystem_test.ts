import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { runConformance } from "../testing.ts";
import { CacheBatchError, CacheError, FileSystemCache, SerializationError } from "../mod.ts";
import { userCacheDir } from "../backends/filesystem/_cache_dir.ts";
import { ORPHAN_AGE } from "../backends/filesystem/_prune.ts";

const WORKER = new URL("./fixtures/fs_worker.ts", import.meta.url).pathname;
const posix = Deno.build.os !== "windows";

/** The file name the cache uses for `key`. */
const nameOf = (key: string) => createHash("sha256").update(key).digest("hex");

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fs_cache_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function entryNames(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => /^[0-9a-f]{64}$/.test(n));
}

function spawnWorker(
  job: string,
  dir: string,
  id: number,
  count: number,
  startAt: number,
  maxEntries = 500,
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      WORKER,
      job,
      dir,
      String(id),
      String(count),
      String(startAt),
      String(maxEntries),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function summaryOf(child: Deno.ChildProcess): Promise<Record<string, unknown>> {
  const { code, stdout, stderr } = await child.output();
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, `worker failed: ${err}`);
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!);
}

/** Workers start in lock-step at this time: long enough for `deno run` to start. */
const startSoon = () => Date.now() + 1500;

Deno.test("FileSystemCache conforms", async (t) => {
  await withDir(async (root) => {
    await runConformance(t, {
      name: "FileSystemCache",
      quirks: { serializes: true },
      make: ({ defaultTtl, now, serializer }) =>
        new FileSystemCache({ dir: `${root}/${crypto.randomUUID()}`, defaultTtl, now, serializer }),
      // A file at the key's path whose checksum does not match its payload.
      corrupt: async (cache, key) => {
        await cache.set(key, { n: 12345 });
        const path = `${(cache as FileSystemCache).dir}/${nameOf(key)}`;
        const bytes = Deno.readFileSync(path);
        bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 1;
        Deno.writeFileSync(path, bytes);
      },
    });
  });
});

Deno.test("FileSystemCache.inc() from 4 processes × 250 counts exactly 1000", async () => {
  await withDir(async (dir) => {
    const start = startSoon();
    const children = [0, 1, 2, 3].map((id) => spawnWorker("inc", dir, id, 250, start));
    for (const child of children) await summaryOf(child);
    await using cache = new FileSystemCache({ dir });
    assert.equal(await cache.get("counter"), 1000);
  });
});

Deno.test("FileSystemCache.add() from 4 processes: exactly one wins each key", async () => {
  await withDir(async (dir) => {
    const start = startSoon();
    const children = [0, 1, 2, 3].map((id) => spawnWorker("add", dir, id, 50, start));
    const won = new Map<number, number[]>();
    for (const [id, child] of children.entries()) {
      for (const key of (await summaryOf(child)).won as number[]) {
        won.set(key, [...(won.get(key) ?? []), id]);
      }
    }
    await using cache = new FileSystemCache({ dir });
    for (let i = 0; i < 50; i++) {
      const winners = won.get(i) ?? [];
      assert.equal(winners.length, 1, `add${i} won by ${JSON.stringify(winners)}`);
      assert.equal(await cache.get(`add${i}`), String(winners[0]), "the winner's value is stored");
    }
  });
});

Deno.test(
  "FileSystemCache: 4 processes hammering one directory read only whole values and keep the bound",
  async () => {
    await withDir(async (dir) => {
      const maxEntries = 40;
      const slack = 3 * (maxEntries / 10); // three other writers, one check interval each
      const start = startSoon();
      const children = [0, 1, 2, 3].map((id) => spawnWorker("hammer", dir, id, 600, start, 40));
      const done = Promise.all(children.map(summaryOf));
      let finished = false;
      done.finally(() => finished = true).catch(() => {});
      await using cache = new FileSystemCache({ dir, maxEntries });
      let samples = 0;
      let most = 0;
      while (!finished) {
        most = Math.max(most, entryNames(dir).length);
        const value = await cache.get<{ check: string; writer: string; i: number; pad: string }>(
          `k${samples % 60}`,
        );
        if (value !== undefined) {
          assert.equal(value.check, `${value.writer}:${value.i}:${value.pad.length}`);
        }
        samples++;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      assert.ok(most >= maxEntries - maxEntries / 10, `the directory filled up (saw ${most})`);
      for (const summary of await done) assert.equal(summary.bad, 0, `worker ${summary.id}`);
      assert.ok(samples > 0);
      assert.ok(
        most <= maxEntries + slack,
        `at most ${maxEntries + slack} entries while writing, saw ${most}`,
      );
      await cache.prune();
      assert.ok(entryNames(dir).length <= maxEntries, "prune() restores the exact bound");
      for (let i = 0; i < 60; i++) await cache.get(`k${i}`); // every file left is readable
      assert.deepEqual(
        [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp")),
        [],
        "no temp files left behind",
      );
    });
  },
);

Deno.test(
  {
    name: "FileSystemCache: a writer killed with SIGKILL mid-write leaves no corrupt reads",
    ignore: !posix,
  },
  async () => {
    await withDir(async (dir) => {
      const child = spawnWorker("write", dir, 0, 0, 0);
      const reader = child.stdout.getReader();
      const first = await reader.read(); // "ready": it has written a few values
      assert.match(new TextDecoder().decode(first.value), /ready/);
      await new Promise((resolve) => setTimeout(resolve, 50));
      child.kill("SIGKILL");
      const status = await child.status;
      reader.releaseLock();
      await child.stdout.cancel();
      await child.stderr.cancel();
      assert.equal(status.signal, "SIGKILL");
      await using cache = new FileSystemCache({ dir });
      for (let i = 0; i < 4; i++) {
        const value = await cache.get<Uint8Array>(`w${i}`);
        assert.ok(value instanceof Uint8Array, `w${i} holds a whole value`);
        assert.equal(value.length, 256 * 1024);
        assert.ok(value.every((b) => b === value[0]), `w${i} is not torn`);
      }
      // The killed writer held no lock that survives it.
      assert.equal(await cache.set("w0", "after"), true);
      assert.equal(await cache.inc("after-kill"), 1);
      // Its temp file (if it died between write and rename) goes once it is old.
      const temps = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp"));
      const old = new Date(Date.now() - ORPHAN_AGE - 1000);
      for (const { name } of temps) Deno.utimeSync(`${dir}/${name}`, old, old);
      assert.equal(await cache.prune(), temps.length);
      assert.equal([...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp")).length, 0);
    });
  },
);

/** A format-1 entry (no checksum, no key name), as written before entries were checksummed. */
function formatOneEntry(value: unknown): Uint8Array {
  const payload = new TextEncoder().encode(JSON.stringify(value));
  const bytes = new Uint8Array(24 + payload.length);
  bytes.set([0x63, 0x6c, 0x66, 0x73, 1]);
  new DataView(bytes.buffer).setFloat64(16, payload.length, true);
  bytes.set(payload, 24);
  return bytes;
}

Deno.test("FileSystemCache reads empty, truncated, flipped, copied, garbage and foreign files as misses and removes them", async (t) => {
  await withDir(async (dir) => {
    await using cache = new FileSystemCache({ dir });
    await cache.set("probe", { long: "v".repeat(100) });
    const good = Deno.readFileSync(`${dir}/${nameOf("probe")}`);
    const otherVersion = good.slice();
    otherVersion[4] = 3;
    /** The key's own file, written by the cache, then changed by `damage`. */
    const own = async (key: string, damage: (bytes: Uint8Array) => void) => {
      await cache.set(key, { n: 12345 });
      const bytes = Deno.readFileSync(`${dir}/${nameOf(key)}`);
      damage(bytes);
      return bytes;
    };
    const cases: [string, Uint8Array | ((key: string) => Promise<Uint8Array>)][] = [
      ["empty", new Uint8Array()],
      ["truncated header", good.subarray(0, 10)],
      ["truncated payload", good.subarray(0, good.length - 5)],
      ["trailing bytes", new Uint8Array([...good, 1, 2])],
      ["garbage", new TextEncoder().encode("not a cache file at all, just text\n".repeat(3))],
      ["another format version", otherVersion],
      ["format 1 (before checksums)", formatOneEntry({ old: true })],
      ["undecodable payload", (key) => own(key, (bytes) => bytes.fill(0xff, 96))],
      // {"n":19345}: a flipped digit the unchecksummed format returned as a value
      ["one flipped payload digit", (key) => own(key, (bytes) => bytes[bytes.length - 5] = 0x39)],
      ["another key's file, copied", good],
    ];
    // Only the checksum or the decoder tells these from a good file; prune reads headers only.
    const headerValid = ["undecodable payload", "one flipped payload digit"];
    for (const [what, bytes] of cases) {
      await t.step(what, async () => {
        for (const op of ["get", "has", "getMany", "inc", "add", "delete", "prune"] as const) {
          const key = `${what}:${op}`;
          const path = `${dir}/${nameOf(key)}`;
          Deno.writeFileSync(path, typeof bytes === "function" ? await bytes(key) : bytes);
          switch (op) {
            case "get":
              assert.equal(await cache.get(key), undefined);
              break;
            case "has":
              assert.equal(await cache.has(key), false);
              break;
            case "getMany":
              assert.deepEqual(await cache.getMany([key]), [undefined]);
              break;
            case "inc":
              assert.equal(await cache.inc(key, 3), 3, "counts from 0");
              assert.equal(await cache.get(key), 3);
              continue;
            case "add":
              assert.equal(await cache.add(key, "new"), true);
              assert.equal(await cache.get(key), "new");
              continue;
            case "delete":
              assert.equal(await cache.delete(key), false, "nothing live was there");
              break;
            case "prune":
              if (headerValid.includes(what)) continue;
              assert.equal(await cache.prune(), 1);
              break;
          }
          assert.throws(() => Deno.statSync(path), Deno.errors.NotFound, `${op} removed it`);
        }
      });
    }
    assert.deepEqual(
      await cache.get("probe"),
      { long: "v".repeat(100) },
      "the good file still reads",
    );
  });
});

Deno.test({
  name: "FileSystemCache creates its directory 0700 and files with mode",
  ignore: !posix,
}, async () => {
  await withDir(async (root) => {
    const dir = `${root}/a/b`;
    {
      await using cache = new FileSystemCache({ dir });
      await cache.set("k", 1);
      assert.equal(Deno.statSync(dir).mode! & 0o777, 0o700);
      assert.equal(Deno.statSync(`${dir}/${nameOf("k")}`).mode! & 0o777, 0o600);
      for (const { name } of Deno.readDirSync(dir)) {
        assert.equal(Deno.statSync(`${dir}/${name}`).mode! & 0o777, 0o600, name);
      }
    }
    await using shared = new FileSystemCache({ dir: `${root}/shared`, mode: 0o664 });
    await shared.set("k", 1);
    await shared.inc("n");
    assert.equal(Deno.statSync(`${root}/shared/${nameOf("k")}`).mode! & 0o777, 0o664);
    assert.equal(Deno.statSync(`${root}/shared/${nameOf("n")}`).mode! & 0o777, 0o664);
  });
});

Deno.test("FileSystemCache keeps hostile keys inside its directory", async () => {
  await withDir(async (root) => {
    const dir = `${root}/cache`;
    await using cache = new FileSystemCache({ dir });
    const keys = [
      "/",
      "..",
      "../..",
      "../../etc/passwd",
      "/etc/passwd",
      "a\u0000b",
      "\u0000",
      "C:\\x",
      "k".repeat(10_000),
      "\uD800",
      "\uDFFF",
    ];
    for (const [i, key] of keys.entries()) assert.equal(await cache.set(key, i), true);
    for (const [i, key] of keys.entries()) {
      assert.equal(await cache.get(key), i, JSON.stringify(key.slice(0, 20)));
    }
    assert.deepEqual([...Deno.readDirSync(root)].map((e) => e.name), ["cache"]);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.equal(entryNames(dir).length, keys.length, "one file per key (lone surrogates differ)");
    for (const name of names) assert.match(name, /^([0-9a-f]{64}|\.lock-[0-9a-f])$/);
  });
});

Deno.test("FileSystemCache.clear() removes its own files and leaves others alone", async () => {
  await withDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/notes.txt`, "mine");
    Deno.writeTextFileSync(`${dir}/${"A".repeat(64)}`, "upper-case hex is not ours");
    Deno.mkdirSync(`${dir}/sub`);
    const fresh = `${"0".repeat(64)}.inflight1.tmp`;
    Deno.writeTextFileSync(`${dir}/${fresh}`, "a write in progress elsewhere");
    const orphan = `${"1".repeat(64)}.dead1.tmp`;
    Deno.writeTextFileSync(`${dir}/${orphan}`, "a writer that died");
    const old = new Date(Date.now() - ORPHAN_AGE - 1000);
    Deno.utimeSync(`${dir}/${orphan}`, old, old);
    await using cache = new FileSystemCache({ dir });
    await cache.setMany({ a: 1, b: 2, c: 3 });
    assert.equal(entryNames(dir).length, 3);
    assert.equal(await cache.clear(), true);
    assert.deepEqual(entryNames(dir), []);
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
      !n.startsWith(".lock-")
    );
    assert.deepEqual(left.sort(), ["A".repeat(64), fresh, "notes.txt", "sub"].sort());
  });
});

Deno.test("FileSystemCache evicts expired entries first, then the oldest write", async () => {
  await withDir(async (dir) => {
    let now = 1_000_000;
    await using cache = new FileSystemCache({ dir, maxEntries: 10, now: () => now });
    for (let i = 0; i < 10; i++) await cache.set(`k${i}`, i, i === 3 ? 1000 : 0);
    // Give each file a distinct write time, k0 the oldest.
    for (let i = 0; i < 10; i++) {
      const at = new Date(Date.now() - (100 - i) * 1000);
      Deno.utimeSync(`${dir}/${nameOf(`k${i}`)}`, at, at);
    }
    now += 1000; // k3 expires
    await cache.set("k10", 10); // makes room: removes expired k3, evicts nothing live
    assert.equal(entryNames(dir).length, 10);
    assert.deepEqual(await cache.getMany(["k0", "k3", "k10"]), [0, undefined, 10]);
    assert.equal(cache.stats().evictions, 0);
    await cache.set("k11", 11); // full: the oldest write (k0) goes
    assert.equal(entryNames(dir).length, 10);
    assert.deepEqual(await cache.getMany(["k0", "k1", "k11"]), [undefined, 1, 11]);
    assert.equal(cache.stats().evictions, 1);
  });
});

Deno.test("FileSystemCache: one process never holds more than maxEntries", async () => {
  await withDir(async (dir) => {
    await using cache = new FileSystemCache({ dir, maxEntries: 50 });
    let most = 0;
    for (let i = 0; i < 400; i++) {
      await cache.set(`k${i}`, i);
      most = Math.max(most, entryNames(dir).length);
    }
    assert.equal(most, 50);
    assert.equal(await cache.get("k399"), 399, "the newest write survives");
    assert.equal(cache.stats().evictions, 350);
  });
});

Deno.test("FileSystemCache: an unwritable directory is a CacheError naming the path and cause", async () => {
  await withDir(async (root) => {
    Deno.writeTextFileSync(`${root}/file`, "");
    const dir = `${root}/file/cache`;
    assert.throws(
      () => new FileSystemCache({ dir }),
      (e: Error) =>
        e instanceof CacheError && e.message.includes(JSON.stringify(dir)) &&
        e.message.includes("is not writable") && e.cause instanceof Error,
    );
    await using cache = new FileSystemCache({ dir: `${root}/ok` });
    await cache.set("k", 1);
    Deno.removeSync(`${root}/ok`, { recursive: true });
    Deno.writeTextFileSync(`${root}/ok`, "now a file");
    await assert.rejects(
      cache.set("k", 2),
      (e: Error) =>
        e instanceof CacheError && e.message.startsWith('Cannot set key "k": ') &&
        e.message.includes(`${root}/ok/`) && e.cause instanceof Error,
    );
  });
});

Deno.test("FileSystemCache checks its options", () => {
  assert.throws(() => new FileSystemCache({}), {
    name: "TypeError",
    message: /exactly one of dir and appName, received neither/,
  });
  assert.throws(() => new FileSystemCache({ dir: "/tmp/x", appName: "x" }), {
    name: "TypeError",
    message: /received both/,
  });
  assert.throws(() => new FileSystemCache({ dir: "" }), TypeError);
  assert.throws(() => new FileSystemCache({ appName: "../up" }), {
    name: "TypeError",
    message: /appName must be/,
  });
  assert.throws(() => new FileSystemCache({ dir: "/tmp/x", maxEntries: -1 }), RangeError);
  assert.throws(() => new FileSystemCache({ dir: "/tmp/x", maxEntries: 1.5 }), RangeError);
  assert.throws(() => new FileSystemCache({ dir: "/tmp/x", mode: 0o1000 }), RangeError);
  assert.throws(() => new FileSystemCache({ dir: "/tmp/x", defaultTtl: -1 }), RangeError);
  assert.throws(
    () => new FileSystemCache({ dir: "/tmp/x", now: 5 as unknown as () => number }),
    TypeError,
  );
});

Deno.test("userCacheDir() follows each platform's convention", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(
    userCacheDir("app", { os: "linux", env: env({ HOME: "/home/u" }) }),
    "/home/u/.cache/app",
  );
  assert.equal(
    userCacheDir("app", { os: "linux", env: env({ HOME: "/home/u", XDG_CACHE_HOME: "/xdg" }) }),
    "/xdg/app",
  );
  assert.equal(
    userCacheDir("app", { os: "linux", env: env({ HOME: "/home/u", XDG_CACHE_HOME: "rel" }) }),
    "/home/u/.cache/app",
    "a relative XDG_CACHE_HOME is ignored",
  );
  assert.equal(
    userCacheDir("app", { os: "darwin", env: env({ HOME: "/Users/u" }) }),
    "/Users/u/Library/Caches/app",
  );
  assert.equal(
    userCacheDir("app", {
      os: "windows",
      env: env({ LOCALAPPDATA: "C:\\Users\\u\\AppData\\Local" }),
    }),
    "C:\\Users\\u\\AppData\\Local\\app\\Cache",
  );
  assert.throws(() => userCacheDir("app", { os: "linux", env: env({}) }), {
    name: "TypeError",
    message: /HOME is not set/,
  });
});

Deno.test("FileSystemCache({ appName }) uses the user cache folder", async () => {
  const appName = `cachelib-test-${crypto.randomUUID()}`;
  const dir = userCacheDir(appName);
  try {
    await using cache = new FileSystemCache({ appName });
    assert.equal(cache.dir, dir);
    await cache.set("k", 1);
    assert.ok(Deno.statSync(`${dir}/${nameOf("k")}`).isFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileSystemCache sees another process's write after a run of misses", async () => {
  await withDir(async (dir) => {
    await using reader = new FileSystemCache({ dir });
    await using writer = new FileSystemCache({ dir });
    for (let i = 0; i < 200; i++) assert.equal(await reader.get(`missing${i}`), undefined);
    assert.equal(await reader.has("late"), false);
    await writer.set("late", "here");
    assert.equal(await reader.get("late"), "here", "a cheap miss probe still finds new files");
    assert.equal(await reader.has("late"), true);
    assert.deepEqual(reader.stats().misses, 201);
  });
});

Deno.test("FileSystemCache with maxEntries: 0 keeps every entry", async () => {
  await withDir(async (dir) => {
    await using cache = new FileSystemCache({ dir, maxEntries: 0 });
    for (let i = 0; i < 700; i++) await cache.set(`k${i}`, i);
    assert.equal(entryNames(dir).length, 700);
    assert.equal(await cache.prune(), 0);
    assert.equal(await cache.get("k0"), 0);
  });
});

Deno.test("FileSystemCache writes remove temp files orphaned by a crash", async () => {
  await withDir(async (dir) => {
    const orphan = `${dir}/${"2".repeat(64)}.crashed1.tmp`;
    const young = `${dir}/${"3".repeat(64)}.writing1.tmp`;
    Deno.writeTextFileSync(orphan, "half a value");
    Deno.writeTextFileSync(young, "a write in progress");
    const old = new Date(Date.now() - ORPHAN_AGE - 1000);
    Deno.utimeSync(orphan, old, old);
    await using cache = new FileSystemCache({ dir, maxEntries: 10 });
    await cache.set("k", 1); // the first write looks at the directory
    assert.throws(() => Deno.statSync(orphan), Deno.errors.NotFound);
    assert.ok(Deno.statSync(young).isFile, "a young temp file may belong to a live writer");
  });
});

Deno.test("FileSystemCache rejects unknown options and names the permission appName needs", async () => {
  assert.throws(() => new FileSystemCache({ dir: "/tmp/x", maxEntrys: 5 } as never), {
    name: "TypeError",
    message:
      /Cannot create FileSystemCache: unknown option "maxEntrys" \(accepted: appName, defaultTtl, dir, lockTimeout, maxEntries, maxEntrySize, mode, now, serializer, sharedDir\)/,
  });
  const mod = new URL("../mod.ts", import.meta.url).href;
  const run = async (permissions: string[], code: string) => {
    const script = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      await Deno.writeTextFile(script, code);
      const { stdout, stderr } = await new Deno.Command(Deno.execPath(), {
        args: ["run", ...permissions, script],
        stdout: "piped",
        stderr: "piped",
      }).output();
      return new TextDecoder().decode(stdout).trim() + new TextDecoder().decode(stderr).trim();
    } finally {
      await Deno.remove(script);
    }
  };
  const report =
    "catch (e) { console.log((e as Error).constructor.name + ': ' + (e as Error).message) }";
  assert.match(
    await run(
      ["--no-prompt", "--allow-read", "--allow-write"],
      `import { FileSystemCache } from "${mod}"; try { new FileSystemCache({ appName: "x" }) } ${report}`,
    ),
    /^CacheError: Cannot create FileSystemCache: appName "x" needs the environment variables .* run with --allow-env, or pass dir: /,
  );
  // Where there is no Deno (Node running a bundle): a CacheError that says so.
  assert.equal(
    await run(
      ["--allow-all"],
      `const { FileSystemCache } = await import("${mod}"); ` +
        `delete (globalThis as Record<string, unknown>).Deno; ` +
        `try { new FileSystemCache({ dir: "/tmp/never" }) } ${report}`,
    ),
    "CacheError: Cannot create FileSystemCache: it needs Deno (it uses Deno's file APIs); " +
      "this runtime has no global Deno",
  );
});

Deno.test({
  name: "FileSystemCache refuses a directory someone else can write to, unless sharedDir",
  ignore: !posix,
}, async (t) => {
  await withDir(async (root) => {
    const refused = (dir: string, why: RegExp) => (e: Error) =>
      e instanceof CacheError &&
      e.message.startsWith(
        `Cannot create FileSystemCache: refusing directory ${JSON.stringify(dir)}: `,
      ) &&
      why.test(e.message);
    await t.step("owned by another user", async () => {
      const dir = `${root}/foreign`;
      Deno.mkdirSync(dir, { mode: 0o700 });
      Deno.chownSync(dir, 65534, 65534);
      assert.throws(() => new FileSystemCache({ dir }), refused(dir, /owned by uid 65534/));
      await using shared = new FileSystemCache({ dir, sharedDir: true });
      assert.equal(await shared.set("k", 1), true);
    });
    await t.step("writable by every user (0777), even with sharedDir", () => {
      const dir = `${root}/open`;
      Deno.mkdirSync(dir);
      Deno.chmodSync(dir, 0o777);
      assert.throws(
        () => new FileSystemCache({ dir }),
        refused(dir, /writable by every user \(mode 0777\)/),
      );
      assert.throws(
        () => new FileSystemCache({ dir, sharedDir: true }),
        refused(dir, /every user/),
      );
      assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing was created in it");
    });
    await t.step("group-writable: only with sharedDir", async () => {
      const dir = `${root}/group`;
      Deno.mkdirSync(dir);
      Deno.chmodSync(dir, 0o770);
      assert.throws(
        () => new FileSystemCache({ dir }),
        refused(dir, /writable by its group \(mode 0770\).*sharedDir: true/),
      );
      await using shared = new FileSystemCache({ dir, sharedDir: true, mode: 0o660 });
      await shared.set("k", 1);
      assert.equal(Deno.statSync(`${dir}/${nameOf("k")}`).mode! & 0o777, 0o660);
    });
    await t.step("created with sharedDir: 0770; without: 0700", async () => {
      await using shared = new FileSystemCache({ dir: `${root}/new-shared`, sharedDir: true });
      assert.equal(Deno.statSync(shared.dir).mode! & 0o777, 0o770);
      await using own = new FileSystemCache({ dir: `${root}/new-own` });
      assert.equal(Deno.statSync(own.dir).mode! & 0o777, 0o700);
    });
  });
});

Deno.test({
  name: "FileSystemCache never follows a symlink or opens a FIFO, device or oversized file",
  ignore: !posix,
}, async (t) => {
  await withDir(async (root) => {
    const dir = `${root}/cache`;
    const outside = `${root}/outside`;
    Deno.mkdirSync(outside);
    await using cache = new FileSystemCache({ dir, maxEntrySize: 4096 });
    await t.step("symlink to /dev/zero at an entry path: a miss, the link removed", async () => {
      const path = `${dir}/${nameOf("zero")}`;
      Deno.symlinkSync("/dev/zero", path);
      assert.equal(await cache.get("zero"), undefined);
      assert.equal(await cache.has("zero"), false);
      assert.throws(() => Deno.lstatSync(path), Deno.errors.NotFound);
    });
    await t.step("symlink to a valid entry elsewhere: a miss, never followed", async () => {
      await cache.set("real", "value");
      Deno.renameSync(`${dir}/${nameOf("real")}`, `${outside}/entry`);
      Deno.symlinkSync(`${outside}/entry`, `${dir}/${nameOf("real")}`);
      assert.equal(await cache.get("real"), undefined);
      assert.ok(Deno.statSync(`${outside}/entry`).isFile, "the target is left alone");
    });
    await t.step("FIFO at an entry path: a miss at once, timers keep running", async () => {
      const path = `${dir}/${nameOf("fifo")}`;
      const made = await new Deno.Command("mkfifo", { args: [path] }).output();
      assert.equal(made.code, 0);
      assert.equal(await cache.get("fifo"), undefined);
      assert.throws(() => Deno.lstatSync(path), Deno.errors.NotFound, "the FIFO was removed");
      await new Deno.Command("mkfifo", { args: [path] }).output();
      assert.equal(await cache.set("fifo", 1), true, "a write replaces it");
      assert.equal(await cache.get("fifo"), 1);
    });
    await t.step("a file over maxEntrySize: a miss; a set over it: false", async () => {
      const path = `${dir}/${nameOf("big")}`;
      Deno.writeFileSync(path, new Uint8Array(5000));
      assert.equal(await cache.get("big"), undefined);
      assert.throws(() => Deno.lstatSync(path), Deno.errors.NotFound);
      await cache.set("big", "small");
      assert.equal(await cache.set("big", "x".repeat(5000)), false);
      assert.equal(await cache.get("big"), undefined, "the older value is gone too");
      assert.deepEqual(await cache.setMany({ a: 1, big: "x".repeat(5000) }), ["a"]);
    });
    await t.step("symlinked .lock-* file: a CacheError, nothing created outside", async () => {
      const locks = `${root}/locks`;
      let key = "k0";
      for (let i = 1; nameOf(key)[0] === "0"; i++) key = `k${i}`;
      await using other = new FileSystemCache({ dir: locks });
      const lock = `${locks}/.lock-${nameOf(key)[0]}`;
      Deno.symlinkSync(`${outside}/made-by-cache`, lock);
      await assert.rejects(
        other.set(key, 1),
        (e: Error) =>
          e instanceof CacheError && e.message.startsWith(`Cannot set key "${key}": `) &&
          e.message.includes(`lock file ${lock} is a symlink`),
      );
      assert.throws(() => Deno.lstatSync(`${outside}/made-by-cache`), Deno.errors.NotFound);
      Deno.removeSync(`${locks}/.lock-0`);
      Deno.symlinkSync(`${outside}/made-at-open`, `${locks}/.lock-0`);
      assert.throws(
        () => new FileSystemCache({ dir: locks }),
        (e: Error) => e instanceof CacheError && /\.lock-0 is a symlink/.test(e.message),
      );
      assert.deepEqual([...Deno.readDirSync(outside)].map((e) => e.name), ["entry"]);
    });
  });
});

/** Starts a process that holds the lock file `path` until it is killed. */
async function holdLock(path: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const f = Deno.openSync(${JSON.stringify(path)}, { read: true, write: true });
       f.lockSync(true); console.log("locked"); setInterval(() => {}, 1000);`,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  assert.match(new TextDecoder().decode(value), /locked/);
  reader.releaseLock();
  return child;
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  child.kill("SIGKILL");
  await child.status;
  await child.stdout.cancel();
}

Deno.test("FileSystemCache: a lock held by a stuck process is a CacheError after lockTimeout, and timers run meanwhile", async () => {
  await withDir(async (dir) => {
    await using cache = new FileSystemCache({ dir, lockTimeout: 300 });
    const lock = `${dir}/.lock-${nameOf("k")[0]}`;
    await cache.set("k", 1); // opens the lock file
    const child = await holdLock(lock);
    try {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      try {
        await assert.rejects(
          cache.set("k", 2),
          (e: Error) =>
            e instanceof CacheError && e.message.startsWith('Cannot set key "k": ') &&
            e.message.includes(`lock file ${lock} still held by another process`) &&
            e.message.includes("lockTimeout"),
        );
        await assert.rejects(cache.inc("k"), CacheError);
      } finally {
        clearInterval(timer);
      }
      assert.ok(ticks > 0, "the event loop ran while the lock was awaited");
      assert.equal(await cache.get("k"), 1, "reads take no lock");
    } finally {
      await stop(child);
    }
    assert.equal(await cache.set("k", 3), true, "the lock is free once its holder is gone");
    assert.equal(await cache.get("k"), 3);
  });
});

Deno.test("FileSystemCache: its directory removed under a live cache is a CacheError on write, a miss on read", async () => {
  await withDir(async (root) => {
    const dir = `${root}/cache`;
    await using cache = new FileSystemCache({ dir, maxEntries: 0 });
    await cache.set("a", 1);
    Deno.removeSync(dir, { recursive: true });
    assert.equal(await cache.get("a"), undefined);
    assert.equal(await cache.has("a"), false);
    let key = "b";
    for (let i = 0; nameOf(key)[0] === nameOf("a")[0]; i++) key = `b${i}`; // an unopened lock
    for (const k of ["a", key]) {
      await assert.rejects(
        cache.set(k, 2),
        (e: Error) =>
          e instanceof CacheError && e.message.startsWith(`Cannot set key "${k}": `) &&
          e.message.includes(`the cache directory ${dir} no longer exists`),
      );
    }
  });
});

Deno.test("FileSystemCache: after 4 processes × 1200 mixed ops, the directory at rest is within maxEntries", async () => {
  await withDir(async (dir) => {
    const maxEntries = 200;
    const start = startSoon();
    const children = [0, 1, 2, 3].map((id) =>
      spawnWorker("spread", dir, id, 1200, start, maxEntries)
    );
    for (const child of children) await summaryOf(child);
    const left = entryNames(dir).length;
    assert.ok(left <= maxEntries, `${left} entry files at rest, bound ${maxEntries}`);
    assert.ok(left >= maxEntries - maxEntries / 10, `the directory was full (${left})`);
  });
});

Deno.test("FileSystemCache: a payload the serializer rejects is present for has/add/delete and a SerializationError for get/getMany/inc", async () => {
  await withDir(async (dir) => {
    let reject = false;
    const serializer = {
      serialize: (value: unknown) => new TextEncoder().encode(JSON.stringify(value)),
      deserialize: (bytes: Uint8Array) => {
        if (reject) throw new Error("rotated key");
        return JSON.parse(new TextDecoder().decode(bytes));
      },
    };
    await using cache = new FileSystemCache({ dir, serializer });
    await cache.set("k", { secret: 1 }, 0);
    reject = true;
    const named = (e: Error) =>
      e instanceof SerializationError && e.message.includes('key "k"') &&
      e.message.includes("rotated key");
    await assert.rejects(cache.get("k"), named);
    await assert.rejects(cache.getMany(["k"]), named);
    await assert.rejects(cache.inc("k"), named);
    assert.equal(await cache.has("k"), true);
    assert.equal(await cache.add("k", 2), false, "add never replaces data it cannot read");
    assert.deepEqual(entryNames(dir), [nameOf("k")], "the file is kept");
    reject = false;
    assert.deepEqual(await cache.get("k"), { secret: 1 }, "the right serializer still reads it");
    reject = true;
    assert.equal(await cache.delete("k"), true);
    assert.equal(await cache.has("k"), false);
  });
});

Deno.test("FileSystemCache: setMany/deleteMany past a stuck lock go on and throw CacheBatchError saying what was done", async () => {
  await withDir(async (dir) => {
    await using cache = new FileSystemCache({ dir, lockTimeout: 300 });
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    await cache.setMany(keys.map((k) => [k, 0] as const), 0);
    const stripe = nameOf("k7")[0];
    const blocked = keys.filter((k) => nameOf(k)[0] === stripe);
    const free = keys.filter((k) => nameOf(k)[0] !== stripe);
    assert.ok(blocked.length >= 2, "two keys share k7's lock");
    const child = await holdLock(`${dir}/.lock-${stripe}`);
    try {
      const set = await cache.setMany(keys.map((k) => [k, 1] as const), 0).then(
        () => assert.fail("setMany resolved"),
        (e) => e,
      );
      assert.ok(set instanceof CacheBatchError, String(set));
      assert.deepEqual([...set.stored!].sort(), [...free].sort());
      assert.match(
        set.message,
        new RegExp(
          `^Cannot setMany: ${blocked.length} of 40 keys failed \\(first: Cannot setMany key "${
            blocked[0]
          }": cannot write `,
        ),
      );
      assert.match(set.message, /still held by another process/);
      assert.equal(set.deleted, undefined);
      const values = await cache.getMany(keys);
      assert.deepEqual(values, keys.map((k) => (blocked.includes(k) ? 0 : 1)));

      const del = await cache.deleteMany(keys).then(
        () => assert.fail("deleteMany resolved"),
        (e) => e,
      );
      assert.ok(del instanceof CacheBatchError, String(del));
      assert.deepEqual([...del.deleted!].sort(), [...free].sort());
      assert.deepEqual(
        (await cache.getMany(keys)).filter((v) => v !== undefined),
        blocked.map(() => 0),
      );
    } finally {
      await stop(child);
    }
  });
});

Deno.test("FileSystemCache: a directory at an entry path is a miss for reads, a typed error naming the key for writes, and is never removed", async () => {
  await withDir(async (dir) => {
    await using cache = new FileSystemCache({ dir });
    await cache.set("other", "o");
    const full = `${dir}/${nameOf("d")}`;
    Deno.mkdirSync(full);
    Deno.writeFileSync(`${full}/x`, new Uint8Array(1));
    const empty = `${dir}/${nameOf("e")}`;
    Deno.mkdirSync(empty);
    for (const key of ["d", "e"]) {
      assert.equal(await cache.get(key), undefined);
      assert.equal(await cache.has(key), false);
      assert.deepEqual(await cache.getMany([key, "other"]), [undefined, "o"]);
      assert.equal(await cache.delete(key), false);
      const typed = (e: Error) =>
        e instanceof CacheError && e.message.includes(`key "${key}"`) &&
        e.message.includes("a directory is at the entry path");
      await assert.rejects(cache.set(key, 1), typed);
      await assert.rejects(cache.add(key, 1), typed);
      await assert.rejects(cache.inc(key), typed);
      const batch = await cache.setMany([[key, 1], ["other", "p"]]).catch((e) => e);
      assert.ok(batch instanceof CacheBatchError);
      assert.deepEqual(batch.stored, ["other"]);
      assert.deepEqual(await cache.deleteMany([key]), []);
      await cache.set("other", "o");
    }
    await cache.clear();
    await cache.prune();
    assert.ok(Deno.statSync(full).isDirectory && Deno.statSync(empty).isDirectory);
    assert.equal(await cache.get("other"), undefined);
  });
});
