// MemcachedCache against its baselines, on a memcached this file starts:
//   deno bench --allow-all bench/memcached_bench.ts
import { startServer } from "../tests/servers.ts";
import { jsonSerializer, MemcachedCache, type MemjsClient } from "../mod.ts";

const server = await startServer("memcached");
const pool = await Promise.all([0, 1, 2].map(() => startServer("memcached")));
globalThis.addEventListener("unload", () => {
  void server.stop();
  for (const s of pool) void s.stop();
});

type RawMemjs = MemjsClient & {
  get(key: string): Promise<{ value: Uint8Array | null }>;
  set(key: string, value: string, options: { expires: number }): Promise<boolean>;
};
const memjs = (await import("memjs")).default;
const raw = memjs.Client.create(server.address, { logger: { log() {} } }) as RawMemjs;
const cache = new MemcachedCache({ servers: server.address });
const prefixed = new MemcachedCache({ servers: server.address, keyPrefix: "bench:" });
// A custom serializer gets every value, strings included (issue 11): what that costs.
const custom = new MemcachedCache({ servers: server.address, serializer: jsonSerializer });

const value = "a short cached string, about sixty bytes long, like a name";
const keys = Array.from({ length: 100 }, (_, i) => `bench:key:${i}`);
// Three servers: the ketama ring (default) and memjs's modulo placement.
const addresses = pool.map((s) => s.address);
const ring = new MemcachedCache({ servers: addresses });
const modulo = new MemcachedCache({ servers: addresses, distribution: "modulo" });
const ringPrefixed = new MemcachedCache({ servers: addresses, keyPrefix: "bench:" });
// generationTtl: 0 reads the prefix generation with every call (the behaviour before issue 13).
const prefixedEveryCall = new MemcachedCache({
  servers: server.address,
  keyPrefix: "bench:",
  generationTtl: 0,
});
const k200 = Array.from({ length: 200 }, (_, i) => keys[i % keys.length]!);
for (const key of keys) {
  await cache.set(key, value);
  await prefixed.set(key, value);
  await ring.set(key, value);
  await modulo.set(key, value);
  await ringPrefixed.set(key, value);
}
await prefixedEveryCall.get(keys[0]!);
await raw.get(keys[0]!); // connect outside the timed functions
await cache.getMany(keys);

// A raw text-protocol multi-get: one write, read until the final END, and
// (for the baseline) split the reply into the 100 values as strings.
const conn = await Deno.connect({ hostname: server.host, port: server.port });
const multiGet = new TextEncoder().encode(`get ${keys.join(" ")}\r\n`);
const buf = new Uint8Array(256 * 1024);
const utf8 = new TextDecoder();
async function rawMultiGet(): Promise<number> {
  await conn.write(multiGet);
  let end = 0;
  for (;;) {
    const n = await conn.read(buf.subarray(end));
    if (n === null) throw new Error("closed");
    end += n;
    // "END\r\n"
    if (
      end >= 5 && buf[end - 5] === 69 && buf[end - 4] === 78 && buf[end - 3] === 68 &&
      buf[end - 1] === 10
    ) return end;
  }
}
async function rawMultiGetValues(): Promise<string[]> {
  const end = await rawMultiGet();
  const values: string[] = [];
  for (let at = 0; at < end;) {
    const eol = buf.indexOf(10, at);
    const line = utf8.decode(buf.subarray(at, eol - 1));
    if (line === "END") break;
    const length = Number(line.slice(line.lastIndexOf(" ") + 1));
    values.push(utf8.decode(buf.subarray(eol + 1, eol + 1 + length)));
    at = eol + 1 + length + 2;
  }
  if (values.length !== keys.length) throw new Error(`got ${values.length} values`);
  return values;
}

Deno.bench({ name: "raw memjs get", group: "get", baseline: true }, async () => {
  await raw.get(keys[0]!);
});
Deno.bench({ name: "MemcachedCache.get", group: "get" }, async () => {
  await cache.get(keys[0]!);
});
Deno.bench({ name: "MemcachedCache.get with keyPrefix", group: "get" }, async () => {
  await prefixed.get(keys[0]!);
});

Deno.bench({ name: "raw memjs set", group: "set", baseline: true }, async () => {
  await raw.set(keys[1]!, value, { expires: 300 });
});
Deno.bench({ name: "MemcachedCache.set", group: "set" }, async () => {
  await cache.set(keys[1]!, value);
});

Deno.bench(
  {
    name: "raw text-protocol multi-get, parsed to 100 strings",
    group: "getMany(100)",
    baseline: true,
  },
  async () => {
    await rawMultiGetValues();
  },
);
Deno.bench(
  { name: "raw text-protocol multi-get, reply not parsed", group: "getMany(100)" },
  async () => {
    await rawMultiGet();
  },
);
Deno.bench({ name: "MemcachedCache.getMany(100)", group: "getMany(100)" }, async () => {
  await cache.getMany(keys);
});
Deno.bench({ name: "raw memjs Promise.all of 100 gets", group: "getMany(100)" }, async () => {
  await Promise.all(keys.map((key) => raw.get(key)));
});

Deno.bench(
  {
    name: "MemcachedCache.set, default serializer (string as UTF-8)",
    group: "set+get, serializer",
    baseline: true,
  },
  async () => {
    await cache.set(keys[2]!, value);
    await cache.get(keys[2]!);
  },
);
Deno.bench(
  { name: "MemcachedCache.set, custom serializer (jsonSerializer)", group: "set+get, serializer" },
  async () => {
    await custom.set(keys[3]!, value);
    await custom.get(keys[3]!);
  },
);

// A key prefix (issue 13): one generation per server, reused for generationTtl
// (1 s) before it is read again; generationTtl: 0 reads it with every call.
Deno.bench({ name: "get", group: "prefix: get", baseline: true }, async () => {
  await cache.get(keys[0]!);
});
Deno.bench({ name: "get with keyPrefix", group: "prefix: get" }, async () => {
  await prefixed.get(keys[0]!);
});
Deno.bench({ name: "get with keyPrefix, generationTtl: 0", group: "prefix: get" }, async () => {
  await prefixedEveryCall.get(keys[0]!);
});
Deno.bench({ name: "inc", group: "prefix: inc", baseline: true }, async () => {
  await cache.inc("counter");
});
Deno.bench({ name: "inc with keyPrefix", group: "prefix: inc" }, async () => {
  await prefixed.inc("counter");
});
Deno.bench({ name: "inc with keyPrefix, generationTtl: 0", group: "prefix: inc" }, async () => {
  await prefixedEveryCall.inc("counter");
});
Deno.bench(
  { name: "200 concurrent gets", group: "prefix: 200 concurrent gets", baseline: true },
  async () => {
    await Promise.all(k200.map((k) => cache.get(k)));
  },
);
Deno.bench(
  { name: "200 concurrent gets with keyPrefix", group: "prefix: 200 concurrent gets" },
  async () => {
    await Promise.all(k200.map((k) => prefixed.get(k)));
  },
);
Deno.bench(
  {
    name: "200 concurrent gets with keyPrefix, generationTtl: 0",
    group: "prefix: 200 concurrent gets",
  },
  async () => {
    await Promise.all(k200.map((k) => prefixedEveryCall.get(k)));
  },
);

// Three servers: what routing costs (the ring hashes each key with md5).
Deno.bench(
  { name: "get, 3 servers, modulo", group: "3 servers: get", baseline: true },
  async () => {
    await modulo.get(keys[0]!);
  },
);
Deno.bench({ name: "get, 3 servers, ketama ring", group: "3 servers: get" }, async () => {
  await ring.get(keys[0]!);
});
Deno.bench({ name: "get, 3 servers, ring + keyPrefix", group: "3 servers: get" }, async () => {
  await ringPrefixed.get(keys[0]!);
});
Deno.bench(
  { name: "getMany(100), 3 servers, modulo", group: "3 servers: getMany(100)", baseline: true },
  async () => {
    await modulo.getMany(keys);
  },
);
Deno.bench(
  { name: "getMany(100), 3 servers, ketama ring", group: "3 servers: getMany(100)" },
  async () => {
    await ring.getMany(keys);
  },
);
Deno.bench(
  { name: "getMany(100), 3 servers, ring + keyPrefix", group: "3 servers: getMany(100)" },
  async () => {
    await ringPrefixed.getMany(keys);
  },
);
