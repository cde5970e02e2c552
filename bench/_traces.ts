/**
 * Request streams for the hit-ratio benchmark: the ARC paper's P6 trace and
 * a seeded Zipf workload, each as dense integer ids plus one key string per id.
 *
 * @module
 */

/** A request stream: `requests[i]` is an id in `0 … keys.length - 1`. */
export interface Trace {
  name: string;
  requests: Int32Array;
  keys: string[];
}

/**
 * Reads a `.lis` trace compressed with zstd (`start count ignored req` per
 * line, standing for `count` requests of blocks `start … start+count-1`).
 */
export async function readLisTrace(path: string, limit = Infinity): Promise<Trace> {
  const child = new Deno.Command("zstd", { args: ["-dc", path], stdout: "piped" }).spawn();
  let requests = new Int32Array(1 << 20);
  let length = 0;
  const idOf = new Map<number, number>();
  const keys: string[] = [];
  let rest = "";
  const decoder = new TextDecoder();
  const take = (line: string) => {
    const a = line.indexOf(" ");
    if (a < 0) return;
    const b = line.indexOf(" ", a + 1);
    const start = Number(line.slice(0, a));
    const count = Number(line.slice(a + 1, b < 0 ? undefined : b));
    for (let block = start; block < start + count && length < limit; block++) {
      let id = idOf.get(block);
      if (id === undefined) {
        id = keys.length;
        idOf.set(block, id);
        keys.push(String(block));
      }
      if (length === requests.length) {
        const grown = new Int32Array(requests.length * 2);
        grown.set(requests);
        requests = grown;
      }
      requests[length++] = id;
    }
  };
  for await (const chunk of child.stdout) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = lines.pop()!;
    for (const line of lines) take(line);
  }
  take(rest);
  const status = await child.status;
  if (!status.success) throw new Error(`Cannot read trace "${path}": zstd exited ${status.code}`);
  return { name: path.split("/").pop()!, requests: requests.subarray(0, length), keys };
}

/** `count` requests over `keySpace` keys with Zipf skew `skew`, from a seeded generator. */
export function zipfTrace(skew: number, keySpace: number, count: number, seed: number): Trace {
  const cdf = new Float64Array(keySpace);
  let sum = 0;
  for (let k = 0; k < keySpace; k++) cdf[k] = sum += 1 / Math.pow(k + 1, skew);
  let state = seed | 0;
  const random = () => {
    let t = (state = (state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  // Shuffle ranks onto ids so popularity does not follow insertion order.
  const idOfRank = new Int32Array(keySpace);
  for (let i = 0; i < keySpace; i++) idOfRank[i] = i;
  for (let i = keySpace - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [idOfRank[i], idOfRank[j]] = [idOfRank[j]!, idOfRank[i]!];
  }
  const requests = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const target = random() * sum;
    let lo = 0, hi = keySpace - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    requests[i] = idOfRank[lo]!;
  }
  const keys = Array.from({ length: keySpace }, (_, i) => `key:${i}`);
  return { name: `Zipf ${skew}`, requests, keys };
}

/** mulberry32: a seeded generator of floats in [0, 1). */
function seeded(seed: number): () => number {
  let state = seed | 0;
  return () => {
    let t = (state = (state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws Zipf ranks in `[0, keySpace)` with skew `skew`. */
function zipfSampler(skew: number, keySpace: number, random: () => number): () => number {
  const cdf = new Float64Array(keySpace);
  let sum = 0;
  for (let k = 0; k < keySpace; k++) cdf[k] = sum += 1 / Math.pow(k + 1, skew);
  return () => {
    const target = random() * sum;
    let lo = 0, hi = keySpace - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

function build(name: string, requests: Int32Array, keyCount: number): Trace {
  return { name, requests, keys: Array.from({ length: keyCount }, (_, i) => `key:${i}`) };
}

/**
 * Adversarial workloads for a cache of `size` entries, `100 × size` requests each, seeded:
 * - `zipf-phases`: Zipf 0.9 over 10 × size keys whose hot set moves to new keys every 10 × size
 *   requests (what was learned must be unlearned);
 * - `scan-hot`: Zipf 1.0 over a hot set of size / 2 keys, interrupted every 4 × size requests by
 *   a scan of 2 × size one-time keys;
 * - `loop-over`: a loop over 1.2 × size keys (LRU and FIFO score 0), with 10 % Zipf noise;
 * - `bursts`: new keys arrive in bursts and are hot for a short while (70 % of requests go to the
 *   last size / 4 keys introduced), then never come back; 30 % Zipf 0.8 background over 5 × size.
 * - `bursts-zipf`: recency, then frequency — `bursts` for half the requests, then Zipf 0.9 over
 *   10 × size other keys (the window must come down from 100 %; issue 14, session 3).
 */
export function adversarialTraces(size: number, seed: number): Trace[] {
  const count = 100 * size;
  const traces: Trace[] = [];
  {
    const random = seeded(seed);
    const keySpace = 10 * size;
    const draw = zipfSampler(0.9, keySpace, random);
    const requests = new Int32Array(count);
    const phase = 10 * size;
    for (let i = 0; i < count; i++) {
      const offset = Math.floor(i / phase) * 7919 * size;
      requests[i] = (draw() + offset) % (keySpace * 11);
    }
    traces.push(build("zipf-phases", requests, keySpace * 11));
  }
  {
    const random = seeded(seed + 1);
    const hot = Math.max(1, size >>> 1);
    const draw = zipfSampler(1.0, hot, random);
    const requests = new Int32Array(count);
    let next = hot;
    for (let i = 0; i < count;) {
      for (let j = 0; j < 4 * size && i < count; j++) requests[i++] = draw();
      for (let j = 0; j < 2 * size && i < count; j++) requests[i++] = next++;
    }
    traces.push(build("scan-hot", requests, next));
  }
  {
    const random = seeded(seed + 2);
    const loop = Math.ceil(1.2 * size);
    const draw = zipfSampler(1.0, size, random);
    const requests = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      requests[i] = random() < 0.1 ? loop + draw() : i % loop;
    }
    traces.push(build("loop-over", requests, loop + size));
  }
  {
    const random = seeded(seed + 3);
    const background = 5 * size;
    const draw = zipfSampler(0.8, background, random);
    const recent = Math.max(1, size >>> 2);
    const requests = new Int32Array(count);
    let next = background;
    for (let i = 0; i < count; i++) {
      if (random() < 0.7) {
        // A new key every few requests; the recent ones are the hot set.
        if (random() < 0.1) next++;
        requests[i] = next - Math.floor(random() * Math.min(recent, next - background + 1));
      } else requests[i] = draw();
    }
    traces.push(build("bursts", requests, next + 1));
  }
  {
    const [, , , bursts] = traces;
    const half = count >>> 1;
    const offset = bursts!.keys.length;
    const draw = zipfSampler(0.9, 10 * size, seeded(seed + 4));
    const requests = new Int32Array(count);
    requests.set(bursts!.requests.subarray(0, half));
    for (let i = half; i < count; i++) requests[i] = offset + draw();
    traces.push(build("bursts-zipf", requests, offset + 10 * size));
  }
  return traces;
}
