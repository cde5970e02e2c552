// FileSystemCache against raw file operations (the floor: what any file cache
// must pay), and flat vs fan-out directory layouts at 100 000 files.
//   deno bench --allow-all bench/filesystem_bench.ts
// Before/after a change, in the same run: point FS_BENCH_BEFORE at another
// checkout's mod.ts, e.g.
//   mkdir /tmp/before && git archive <commit> | tar -x -C /tmp/before
//   FS_BENCH_BEFORE=/tmp/before/mod.ts deno bench --allow-all bench/filesystem_bench.ts
// Python cachelib's FileSystemCache, same workload, same machine:
//   python3 bench/filesystem_cachelib.py
import { createHash } from "node:crypto";
import { FileSystemCache } from "../mod.ts";
import { encodeEntry, verifyEntry } from "../backends/filesystem/_format.ts";

const record = { id: 7, name: "Ada Lovelace", email: "ada@example.com", admin: false, score: 97.5 };
const N = 400;
const keys = Array.from({ length: N }, (_, i) => `user:${i}`);
const fresh = Array.from({ length: 200_000 }, (_, i) => `fresh:${i}`);
const root = Deno.makeTempDirSync({ prefix: "fs_bench_" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));

const cache = new FileSystemCache({ dir: `${root}/cache`, maxEntries: 500 });
const full = new FileSystemCache({ dir: `${root}/full`, maxEntries: 500 });
for (const key of keys) await cache.set(key, record);
for (let j = 0; j < 500; j++) await full.set(`seed:${j}`, record);

// The floor: the same bytes through raw calls, no header, hashing or locking.
const rawDir = `${root}/raw`;
Deno.mkdirSync(rawDir);
const rawBytes = new TextEncoder().encode(JSON.stringify(record));
const rawPaths = keys.map((key) => `${rawDir}/${createHash("sha256").update(key).digest("hex")}`);
for (const path of rawPaths) Deno.writeFileSync(path, rawBytes);

// The checksummed format's own cost: encoding and verifying an entry, against
// format 1's header (magic, version, expiry, length: no checksum, no name).
const entryName = createHash("sha256").update("user:1").digest("hex");
const payloads = { "record": rawBytes, "64 KiB": new Uint8Array(64 * 1024).fill(7) };
function formatOne(expiry: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(24 + payload.length);
  bytes.set([0x63, 0x6c, 0x66, 0x73, 1]);
  const view = new DataView(bytes.buffer);
  view.setFloat64(8, expiry, true);
  view.setFloat64(16, payload.length, true);
  bytes.set(payload, 24);
  return bytes;
}
function formatOneExpiry(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, 24);
  if (bytes[0] !== 0x63 || bytes[4] !== 1 || view.getFloat64(16, true) !== bytes.length - 24) {
    return -1;
  }
  return view.getFloat64(8, true);
}
for (const [size, payload] of Object.entries(payloads)) {
  const one = formatOne(0, payload);
  const two = encodeEntry(entryName, 0, payload);
  const group = `entry format, ${size}`;
  Deno.bench("format 1 encode (no checksum)", { group, baseline: true }, () => {
    formatOne(0, payload);
  });
  Deno.bench("format 2 encode (crc32 + name)", { group }, () => {
    encodeEntry(entryName, 0, payload);
  });
  Deno.bench("format 1 check header", { group }, () => {
    formatOneExpiry(one);
  });
  Deno.bench("format 2 verify (crc32 + name)", { group }, () => {
    verifyEntry(two, entryName);
  });
}

const before = Deno.env.get("FS_BENCH_BEFORE");
if (before) {
  const { FileSystemCache: Before } = await import(new URL(before, `file://${Deno.cwd()}/`).href);
  const pair = {
    before: new Before({ dir: `${root}/before`, maxEntries: 1000 }) as FileSystemCache,
    after: new FileSystemCache({ dir: `${root}/after`, maxEntries: 1000 }),
  };
  let b = 0;
  for (const [name, c] of Object.entries(pair)) {
    for (const key of keys) await c.set(key, record);
    const baseline = name === "before";
    Deno.bench(`${name}: get`, { group: "before/after: get hit", baseline }, async () => {
      await c.get(keys[b++ % N]!);
    });
    Deno.bench(`${name}: has`, { group: "before/after: has", baseline }, async () => {
      await c.has(keys[b++ % N]!);
    });
    Deno.bench(`${name}: set`, { group: "before/after: set", baseline }, async () => {
      await c.set(keys[b++ % N]!, record);
    });
  }
}

let i = 0;
const next = () => i++ % N;
let f = 0;

Deno.bench("raw readFileSync + JSON.parse", { group: "get hit", baseline: true }, () => {
  JSON.parse(new TextDecoder().decode(Deno.readFileSync(rawPaths[next()]!)));
});
Deno.bench("raw Deno.readFile (async) + JSON.parse", { group: "get hit" }, async () => {
  JSON.parse(new TextDecoder().decode(await Deno.readFile(rawPaths[next()]!)));
});
Deno.bench("FileSystemCache get", { group: "get hit" }, async () => {
  await cache.get(keys[next()]!);
});

Deno.bench("raw readFileSync, missing file", { group: "get miss", baseline: true }, () => {
  try {
    Deno.readFileSync(`${rawDir}/missing`);
  } catch { /* the miss */ }
});
Deno.bench("FileSystemCache get, miss", { group: "get miss" }, async () => {
  await cache.get(fresh[f++ % fresh.length]!);
});

Deno.bench("raw write temp + rename", { group: "set (overwrite)", baseline: true }, () => {
  const path = rawPaths[next()]!;
  Deno.writeFileSync(`${path}.tmp`, rawBytes);
  Deno.renameSync(`${path}.tmp`, path);
});
Deno.bench("FileSystemCache set", { group: "set (overwrite)" }, async () => {
  await cache.set(keys[next()]!, record);
});
Deno.bench("FileSystemCache inc", { group: "set (overwrite)" }, async () => {
  await cache.inc(keys[next()]!.replace("user", "n"));
});

Deno.bench(
  "raw write temp + rename + unlink",
  { group: "set (full, new keys)", baseline: true },
  () => {
    const path = `${rawDir}/${f++}`;
    Deno.writeFileSync(`${path}.tmp`, rawBytes);
    Deno.renameSync(`${path}.tmp`, path);
    Deno.removeSync(path);
  },
);
Deno.bench("FileSystemCache set, evicting", { group: "set (full, new keys)" }, async () => {
  await full.set(fresh[f++ % fresh.length]!, record);
});

// Layout: 100 000 files in one folder vs 256 subfolders (`ab/<hash>`).
const M = 100_000;
const hashes = Array.from(
  { length: M },
  (_, j) => createHash("sha256").update(`k${j}`).digest("hex"),
);
const flat = `${root}/flat`;
const fan = `${root}/fan`;
Deno.mkdirSync(flat);
Deno.mkdirSync(fan);
for (let j = 0; j < 256; j++) Deno.mkdirSync(`${fan}/${j.toString(16).padStart(2, "0")}`);
const flatPath = (h: string) => `${flat}/${h}`;
const fanPath = (h: string) => `${fan}/${h.slice(0, 2)}/${h}`;
for (const h of hashes) {
  Deno.writeFileSync(flatPath(h), rawBytes);
  Deno.writeFileSync(fanPath(h), rawBytes);
}
let r = 0;
Deno.bench("flat: read", { group: "layout read (100k files)", baseline: true }, () => {
  Deno.readFileSync(flatPath(hashes[r = (r + 7919) % M]!));
});
Deno.bench("fan-out: read", { group: "layout read (100k files)" }, () => {
  Deno.readFileSync(fanPath(hashes[r = (r + 7919) % M]!));
});
Deno.bench("flat: write + rename", { group: "layout write (100k files)", baseline: true }, () => {
  const path = flatPath(hashes[r = (r + 7919) % M]!);
  Deno.writeFileSync(`${path}.tmp`, rawBytes);
  Deno.renameSync(`${path}.tmp`, path);
});
Deno.bench("fan-out: write + rename", { group: "layout write (100k files)" }, () => {
  const path = fanPath(hashes[r = (r + 7919) % M]!);
  Deno.writeFileSync(`${path}.tmp`, rawBytes);
  Deno.renameSync(`${path}.tmp`, path);
});
Deno.bench(
  "flat: list",
  { group: "layout list (100k files)", baseline: true, n: 5, warmup: 1 },
  () => {
    let c = 0;
    for (const _ of Deno.readDirSync(flat)) c++;
    if (c < M) throw new Error("short listing");
  },
);
Deno.bench("fan-out: list", { group: "layout list (100k files)", n: 5, warmup: 1 }, () => {
  let c = 0;
  for (let j = 0; j < 256; j++) {
    for (const _ of Deno.readDirSync(`${fan}/${j.toString(16).padStart(2, "0")}`)) c++;
  }
  if (c < M) throw new Error("short listing");
});
