// TieredCache invalidation latency across 2 processes over one local Redis: this process writes,
// a peer process (tests/fixtures/tiered_peer.ts) reports when its cache has handled each bus
// message. Clocks: performance.timeOrigin + performance.now() in both (one machine).
//   deno run --allow-all bench/tiered_latency.ts [rounds=500]
import { MemoryCache, RedisBus, RedisCache, TieredCache } from "../mod.ts";
import { startServer } from "../tests/servers.ts";

const rounds = Number(Deno.args[0] ?? 500);
const now = () => performance.timeOrigin + performance.now();
const redis = await startServer("redis");
const channel = `bench:${crypto.randomUUID()}`;
const keyPrefix = `bench:${crypto.randomUUID()}:`;
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-all",
    new URL("../tests/fixtures/tiered_peer.ts", import.meta.url).pathname,
    redis.url,
    channel,
    keyPrefix,
  ],
  stdin: "piped",
  stdout: "piped",
}).spawn();
const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
let buffer = "";
async function nextLine(): Promise<string> {
  while (!buffer.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error("the peer exited");
    buffer += value;
  }
  const i = buffer.indexOf("\n");
  const line = buffer.slice(0, i);
  buffer = buffer.slice(i + 1);
  return line;
}
const bus = new RedisBus({ url: redis.url, channel });
const cache = new TieredCache({
  l1: new MemoryCache(),
  l2: new RedisCache({ url: redis.url, keyPrefix }),
  bus,
});
try {
  await bus.ready();
  while ((await nextLine()) !== "ready");
  const fromCall: number[] = [];
  const fromResolve: number[] = [];
  for (let round = 0; round < rounds + 20; round++) {
    const start = now();
    await cache.set("k", round);
    const resolved = now();
    const line = await nextLine();
    const delivered = Number(line.slice("delivered ".length));
    if (round < 20) continue; // warm-up
    fromCall.push(delivered - start);
    fromResolve.push(delivered - resolved);
  }
  const pct = (values: number[], p: number) =>
    values.toSorted((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;
  const ms = (x: number) => `${x.toFixed(3)} ms`;
  console.log(`rounds: ${rounds}`);
  console.log(
    `set() called → peer evicted: p50 ${ms(pct(fromCall, 0.5))}, p99 ${ms(pct(fromCall, 0.99))}`,
  );
  console.log(
    `set() resolved → peer evicted: p50 ${ms(pct(fromResolve, 0.5))}, p99 ${
      ms(pct(fromResolve, 0.99))
    }`,
  );
} finally {
  await cache.close();
  await child.stdin.close();
  await lines.cancel();
  await child.status;
  await redis.stop();
}
