// The distributed stampede lock (backends/_lock.ts), measured: 4 processes × 50 concurrent
// produceOnce calls of one missing key (produce takes 100 ms) on each backend that shares
// state between processes; prints produce count and the p50/p99 wait of the 200 calls. Then a
// holder with a 1 s lease is killed while it holds the lock: how long the next caller waits.
//   deno run -A --unstable-kv bench/lock_stampede.ts [ROUNDS]
import { startServer } from "../tests/servers.ts";
import { runStampede, workerCommand } from "../tests/fixtures/lock_stampede.ts";
import { cacheFromUrl } from "../mod.ts";
import { produceOnce } from "../backends/_lock.ts";

const rounds = Number(Deno.args[0] ?? 3);
const dir = await Deno.makeTempDir();
await using redis = await startServer("redis");
await using memcached = await startServer("memcached");
const urls: [string, string][] = [
  ["RedisCache", redis.url],
  ["MemcachedCache", memcached.url],
  ["FileSystemCache", `file://${dir}/fs`],
  ["DenoKvCache", `denokv://${dir}/kv.db`],
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

console.log("| backend | rounds | produce runs per round | p50 wait | p99 wait | max wait |");
console.log("| --- | --- | --- | --- | --- | --- |");
try {
  for (const [name, url] of urls) {
    const produced: number[] = [];
    const waits: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const report = await runStampede(url, dir, 4, 50);
      produced.push(report.producers.length);
      waits.push(...report.waits);
    }
    waits.sort((a, b) => a - b);
    console.log(
      `| ${name} | ${rounds} | ${produced.join(", ")} | ${percentile(waits, 50)} ms | ${
        percentile(waits, 99)
      } ms | ${waits.at(-1)} ms |`,
    );
  }
  console.log(
    "\n| backend | killed holder's lease | next caller's wait after the kill, 3 rounds |",
  );
  console.log("| --- | --- | --- |");
  for (const [name, url] of urls) {
    const waits: number[] = [];
    for (let round = 0; round < 3; round++) waits.push(await afterCrash(url));
    console.log(`| ${name} | 1000 ms | ${waits.map((ms) => `${ms} ms`).join(", ")} |`);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

/** Kills a process holding the lock of a fresh key; returns the next caller's wait in ms. */
async function afterCrash(url: string): Promise<number> {
  const key = `crash-${crypto.randomUUID()}`;
  await using cache = cacheFromUrl(url);
  await cache.has("warm-up"); // connected before the clock starts
  const child = workerCommand(["hold", url, key, "1000"], false).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  for (let seen = ""; !seen.includes("holding");) seen += (await reader.read()).value ?? "";
  child.kill("SIGKILL");
  const start = Date.now();
  await reader.cancel();
  await child.status;
  await produceOnce(
    cache,
    key,
    { lease: 1000, deadline: start + 30_000 },
    () => cache.get(key),
    () => cache.set(key, 1).then(() => true),
  );
  return Date.now() - start;
}
