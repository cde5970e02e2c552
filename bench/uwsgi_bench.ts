// UwsgiCache against raw uwsgi requests to the same server, in the same run.
// Needs `uwsgi` (Debian `uwsgi-core`): deno bench --allow-all bench/uwsgi_bench.ts
import { startServer } from "../tests/servers.ts";
import { UwsgiCache } from "../mod.ts";
import { encodePacket, request } from "../backends/uwsgi/_protocol.ts";
import { defaultSerializer } from "../serializers/default.ts";

const server = await startServer("uwsgi", { items: 2000, blocksize: 65536 });
// Stop the server when the bench process ends (stop() sends SIGTERM synchronously).
globalThis.addEventListener("unload", () => void server.stop());

const endpoint = { hostname: server.host, port: server.port, timeout: 5000 };
const cache = new UwsgiCache({ server: server.address, cache: server.cacheName, defaultTtl: 0 });
const value = { id: 42, name: "Ada Lovelace", tags: ["math", "engines"], active: true };
const body = defaultSerializer.serialize(value);
const name = server.cacheName;
await cache.set("user:42", value);
const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
await cache.setMany(keys.map((k) => [k, value] as [string, unknown]));

const getPacket = encodePacket([["cmd", "get"], ["key", "user:42"], ["cache", name]]);
const setPacket = encodePacket(
  [["cmd", "update"], ["key", "user:42"], ["size", String(body.length)], ["cache", name]],
  body,
);
const missPacket = encodePacket([["cmd", "get"], ["key", "absent"], ["cache", name]]);
const manyPackets = keys.map((k) => encodePacket([["cmd", "get"], ["key", k], ["cache", name]]));

Deno.bench(
  "raw get request (baseline)",
  { group: "get hit", baseline: true, n: 3000 },
  async () => {
    const reply = await request(endpoint, getPacket);
    defaultSerializer.deserialize(reply!.body);
  },
);
Deno.bench("UwsgiCache.get", { group: "get hit", n: 3000 }, async () => {
  await cache.get("user:42");
});

Deno.bench(
  "raw get request (baseline)",
  { group: "get miss", baseline: true, n: 3000 },
  async () => {
    await request(endpoint, missPacket);
  },
);
Deno.bench("UwsgiCache.get", { group: "get miss", n: 3000 }, async () => {
  await cache.get("absent");
});

Deno.bench("raw update request (baseline)", { group: "set", baseline: true, n: 3000 }, async () => {
  await request(endpoint, setPacket);
});
Deno.bench("UwsgiCache.set", { group: "set", n: 3000 }, async () => {
  await cache.set("user:42", value);
});

Deno.bench("100 raw get requests, concurrent (baseline)", {
  group: "getMany 100",
  baseline: true,
  n: 200,
}, async () => {
  await Promise.all(manyPackets.map((p) => request(endpoint, p)));
});
Deno.bench("UwsgiCache.getMany (100 keys)", { group: "getMany 100", n: 200 }, async () => {
  await cache.getMany(keys);
});

// 1000 keys: more connections at once than uWSGI's listen queue (100) holds.
const thousand = Array.from({ length: 1000 }, (_, i) => `t${i}`);
await cache.setMany(thousand.map((k) => [k, 1] as [string, unknown]));
const thousandPackets = thousand.map((k) =>
  encodePacket([["cmd", "get"], ["key", k], ["cache", name]])
);
/** Sends every packet, `limit` connections at a time. */
async function pooled(packets: Uint8Array[], limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < packets.length) await request(endpoint, packets[next++]!);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}
Deno.bench("1000 raw get requests, 32 at a time (baseline)", {
  group: "getMany 1000",
  baseline: true,
  n: 10,
}, async () => {
  await pooled(thousandPackets, 32);
});
Deno.bench("UwsgiCache.getMany (1000 keys)", { group: "getMany 1000", n: 10 }, async () => {
  await cache.getMany(thousand);
});
// Last, as it can leave the server's queue backed up; allSettled waits for every straggler.
Deno.bench("1000 raw get requests, all at once", { group: "getMany 1000", n: 5 }, async () => {
  const results = await Promise.allSettled(thousandPackets.map((p) => request(endpoint, p)));
  const failed = results.filter((r) => r.status === "rejected").length;
  if (failed > 0) console.error(`${failed} of 1000 requests failed`);
});
