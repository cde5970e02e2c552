import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { runConformance } from "./conformance.ts";
import { CacheError, FileSystemCache } from "../mod.ts";
import { userCacheDir } from "../backends/filesystem/cache_dir.ts";
import { ORPHAN_AGE } from "../backends/filesystem/prune.ts";

const WORKER = new URL("./fixtures/fs_worker.ts", import.meta.url).pathname;
const posix = Deno.build.os !== "windows";

/** The file name the cache uses for `key`. */
const nameOf = (key: string) => createHash("sha256").update(key, "utf16le").digest("hex");

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
      make: ({ defaultTtl, now }) =>
        new FileSystemCache({ dir: `${root}/${crypto.randomUUID()}`, defaultTtl, now }),
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
