// TieredCache invalidation latency across 2 processes over one local Redis: this process writes,
// a peer process (tests/fixtures/tiered_peer.ts) reports when its cache has handled each bus
// message. Clocks: performance.timeOrigin + performance.now() in both (one machine).
//   deno run --allow-all bench/tiered_latency.ts [rounds=500]
// With --cluster: a local Redis Cluster (3 masters, no replicas), RedisCache on the cluster and
// the sharded pub/sub bus (SPUBLISH / SSUBSCRIBE on the channel's shard).
//   deno run --allow-all bench/tiered_latency.ts --cluster [rounds=500]
import { MemoryCache, RedisBus, RedisCache, TieredCache } from "../mod.ts";
import { startServer } from "../tests/servers.ts";
import { startRedisCluster } from "../tests/cluster_servers.ts";

const clustered = Deno.args.includes("--cluster");
const rounds = Number(Deno.args.find((arg) => !arg.startsWith("--")) ?? 500);
const now = () => performance.timeOrigin + performance.now();
const server = clustered ? await startRedisCluster({ masters: 3 }) : await startServer("redis");
const rootNodes = "rootNodes" in server ? server.rootNodes : undefined;
const url = "url" in server
  ? server.url
  : `redis+cluster://${server.masters.map((n) => n.address).join(",")}`;
const channel = `bench:${crypto.randomUUID()}`;
const keyPrefix = `bench:${crypto.randomUUID()}:`;
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-all",
    new URL("../tests/fixtures/tiered_peer.ts", import.meta.url).pathname,
    url,
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
const bus = new RedisBus({ url, channel });
const cache = new TieredCache({
  l1: new MemoryCache(),
  l2: rootNodes
    ? new RedisCache({ cluster: { rootNodes }, keyPrefix })
    : new RedisCache({ url, keyPrefix }),
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
    let line = await nextLine();
    while (!line.startsWith("delivered ")) line = await nextLine(); // e.g. a "reset"
    const delivered = Number(line.split(" ")[1]); // delivered <time> <message>
    if (round < 20) continue; // warm-up
    fromCall.push(delivered - start);
    fromResolve.push(delivered - resolved);
  }
  const pct = (values: number[], p: number) =>
    values.toSorted((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;
  const ms = (x: number) => `${x.toFixed(3)} ms`;
  console.log(
    `${clustered ? `cluster, sharded pub/sub on ${bus.shard}` : "one server"}; rounds: ${rounds}`,
  );
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
  await server.stop();
}
