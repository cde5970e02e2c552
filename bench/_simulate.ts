/**
 * Replays a request stream through an eviction policy the way `MemoryStore`
 * drives it (insert on a miss, then evict while over the bound), without the
 * store's values, ttls and copies — so whole traces replay in seconds.
 *
 * @module
 */
import type { PolicyFactory } from "../policies/policy.ts";
import type { Trace } from "./_traces.ts";

/** Hits / requests, in percent, of `factory`'s policy at `size` entries on `trace`. */
export function simulate(
  trace: Trace,
  factory: PolicyFactory,
  size: number,
  progress?: (done: number) => void,
): number {
  const policy = factory(size + 1);
  const slotOf = new Int32Array(trace.keys.length).fill(-1);
  const idOf = new Int32Array(size + 1);
  const free: number[] = [];
  const { requests, keys } = trace;
  let used = 0, count = 0, hits = 0;
  for (let i = 0; i < requests.length; i++) {
    if (progress && (i & 0xfffff) === 0) progress(i);
    const id = requests[i]!;
    const slot = slotOf[id]!;
    if (slot >= 0) {
      hits++;
      policy.access(slot);
      continue;
    }
    const fresh = free.pop() ?? used++;
    slotOf[id] = fresh;
    idOf[fresh] = id;
    policy.insert(fresh, keys[id]!);
    if (++count > size) {
      const victim = policy.victim();
      policy.remove(victim);
      slotOf[idOf[victim]!] = -1;
      free.push(victim);
      count--;
    }
  }
  return (100 * hits) / requests.length;
}
