// The distributed stampede lock (backends/_lock.ts), measured: 4 processes × 50 concurrent
// produceOnce calls of one missing key (produce takes 100 ms) on each backend that shares
// state between processes; prints produce count and the p50/p99 wait of the 200 calls.
//   deno run -A --unstable-kv bench/lock_stampede.ts [ROUNDS]
import { startServer } from "../tests/servers.ts";
import { runStampede } from "../tests/fixtures/lock_stampede.ts";

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
} finally {
  await Deno.remove(dir, { recursive: true });
}
