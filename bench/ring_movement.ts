// How many keys stay on their server when one of N memcached servers leaves:
// the ketama ring (libmemcached-compatible) against modulo placement (hash % n,
// what memjs does). Deterministic: prints the same table on every run.
//
//   deno run --allow-read bench/ring_movement.ts
import { createHash } from "node:crypto";
import { KetamaRing } from "../backends/memcached/_ring.ts";

const KEYS = Array.from({ length: 3000 }, (_, i) => `user:${i}:profile`);

/** Modulo placement over a server list, with the md5 key hash the ring uses. */
const modulo = (servers: string[]) => (key: string) => {
  const d = createHash("md5").update(key).digest();
  return servers[((d[0]! | d[1]! << 8 | d[2]! << 16 | d[3]! << 24) >>> 0) % servers.length]!;
};

console.log(
  "| servers | removed | ketama: keys that stay | modulo: keys that stay | bar (N-1)/N - 5 % |",
);
console.log("| --- | --- | --- | --- | --- |");
for (const n of [3, 4, 5]) {
  const servers = Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}:11211`);
  const ring = new KetamaRing(servers);
  for (const removed of servers) {
    const smaller = ring.without(removed);
    const rest = servers.filter((s) => s !== removed);
    const before = modulo(servers);
    const after = modulo(rest);
    const ringStay = KEYS.filter((k) => smaller.serverFor(k) === ring.serverFor(k)).length;
    const modStay = KEYS.filter((k) => after(k) === before(k)).length;
    const pct = (x: number) => `${(100 * x / KEYS.length).toFixed(1)} % (${x})`;
    const bar = (100 * ((n - 1) / n - 0.05)).toFixed(1);
    console.log(`| ${n} | ${removed} | ${pct(ringStay)} | ${pct(modStay)} | ${bar} % |`);
  }
}

// Over many server sets: the share a server owns varies (160 points each), so
// the keys that stay when one leaves vary around (N-1)/N.
let seed = 7;
const next = () => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed >>> 16;
};
const stays: number[] = [];
for (let set = 0; set < 300; set++) {
  const servers = Array.from(
    { length: 3 },
    () => `10.${next() % 256}.${next() % 256}.${next() % 256}:11211`,
  );
  if (new Set(servers).size < 3) continue;
  const ring = new KetamaRing(servers);
  for (const removed of servers) {
    const smaller = ring.without(removed);
    stays.push(KEYS.filter((k) => smaller.serverFor(k) === ring.serverFor(k)).length / KEYS.length);
  }
}
stays.sort((a, b) => a - b);
const mean = stays.reduce((a, b) => a + b, 0) / stays.length;
const below = stays.filter((s) => s < 2 / 3 - 0.05).length;
console.log(
  `\n3 servers, ${stays.length} (server set, removed server) pairs over ${
    stays.length / 3
  } random sets: ` +
    `keys that stay: min ${(100 * stays[0]!).toFixed(1)} %, mean ${(100 * mean).toFixed(1)} %, ` +
    `max ${(100 * stays.at(-1)!).toFixed(1)} %; below 61.7 %: ${below} (${
      (100 * below / stays.length).toFixed(1)
    } %)`,
);
