// Issue 14, memory per entry: the compact state of the policies (s3fifo's ghost, the frequency
// sketch) still remembers what it must.
import assert from "node:assert/strict";
import { _Ghost } from "../policies/_ghost.ts";
import { _FrequencySketch } from "../policies/_sketch.ts";

/** 30-bit hashes that land in distinct words of a ghost for `capacity` keys (1.75 words each). */
function distinctHashes(capacity: number, count: number): number[] {
  const words = Math.ceil(1.75 * capacity);
  return Array.from({ length: count }, (_, i) => Math.floor(((i + 0.5) * 2 ** 30) / words));
}

Deno.test("s3fifo's ghost remembers the last `limit` hashes added, to within one time unit", () => {
  // 1 750 words, so time moves on every 2 adds: the boundary is exact to 2 adds.
  const ghost = new _Ghost(1000);
  const hashes = distinctHashes(1000, 1000);
  for (const hash of hashes) ghost.add(hash);
  const recent = hashes.map((hash) => ghost.take(hash, 500));
  // The last 500 added are remembered, the ones before are not (±2 at the edge).
  assert.deepEqual(recent.slice(502), Array(498).fill(true));
  assert.deepEqual(recent.slice(0, 497), Array(497).fill(false));
  // take() forgets what it finds, remembered or not.
  assert.equal(ghost.take(hashes[999]!, 1000), false);
  assert.equal(ghost.take(hashes[0]!, 1000), false);
  // A hash never added, and one sharing a word but not its fingerprint, are not remembered.
  ghost.add(hashes[10]!);
  assert.equal(ghost.take(hashes[10]! + 1, 1000), false);
  assert.equal(ghost.take(hashes[11]!, 1000), false);
  assert.equal(ghost.take(hashes[10]!, 1000), true);
});

Deno.test("s3fifo's ghost: stamps wrap without making old hashes look recent", () => {
  const ghost = new _Ghost(64); // 112 words, one time unit per add
  const [old, ...others] = distinctHashes(64, 64);
  ghost.add(old!);
  // 65 536 + 10 adds later the 16-bit stamp has wrapped; the old hash's word was overwritten
  // by then, as it almost surely is in use (here every word is rewritten many times).
  for (let i = 0; i < 65_546; i++) ghost.add(others[i % others.length]!);
  assert.equal(ghost.take(old!, 100), false);
  // Cleared, it remembers nothing.
  ghost.clear();
  assert.equal(ghost.take(others[0]!, 100), false);
});

for (const keys of [64, 70_000]) {
  // 64 keys: a power-of-two sketch with a doorkeeper; 70 000: sized by multiplying, without one.
  Deno.test(`the frequency sketch of ${keys} keys keeps every estimate when it grows`, () => {
    const sketch = new _FrequencySketch(keys, 1000);
    // Mixed 30-bit hashes, used 1 … 5 times each (the first use may only enter the doorkeeper).
    const hashes = Array.from({ length: 3000 }, (_, i) => Math.imul(i + 1, 0x9e3779b1) >>> 2);
    hashes.forEach((hash, i) => {
      for (let n = 0; n <= i % 5; n++) sketch.increment(hash);
    });
    const before = hashes.map((hash) => [sketch.count(hash), sketch.frequency(hash)]);
    assert.ok(before.some(([count]) => count! >= 3), "some counts reached 3");
    sketch.grow(keys * 3);
    assert.equal(sketch.keys, keys * 4);
    assert.deepEqual(hashes.map((hash) => [sketch.count(hash), sketch.frequency(hash)]), before);
  });
}
