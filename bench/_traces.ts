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
