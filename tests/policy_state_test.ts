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

// Issue 14, speed of the hit path: a hit keeps its use in the slot's byte instead of four sketch
// counters. Every estimate of that key must still see it, the sketch must get it when the entry
// leaves, and an aging must halve it like any other use.
Deno.test("W-TinyLFU's pending hits count in every estimate, reach the sketch on removal, and age", async () => {
  const { _WindowTinyLfu } = await import("../policies/_wtinylfu.ts");
  const { _spreadOf } = await import("../policies/_sketch.ts");
  // A sketch for 2 048 keys ages every 20 × 2 048 uses: none in the first part.
  const engine = new _WindowTinyLfu(16, 2048, 0.5, 7);
  const reference = new _FrequencySketch(2048, 5);
  const hashes = [1001, 2_000_003, 30_000_007, 400_000_009];
  hashes.forEach((hash, slot) => {
    engine.insert(slot, hash);
    reference.increment(hash);
  });
  // Hits 0, 3, 7 and 20 times (the last saturates at 15, as counters do).
  [0, 3, 7, 20].forEach((hits, slot) => {
    for (let i = 0; i < hits; i++) {
      engine.hit(slot);
      reference.incrementSeen(hashes[slot]!, _spreadOf(hashes[slot]!));
    }
  });
  const counted = hashes.map((hash) => reference.count(hash));
  assert.deepEqual(counted, [0, 3, 7, 15]);
  assert.deepEqual(hashes.map((_, slot) => engine.estimate(slot)), counted);
  // The sketch itself holds none of the hits yet …
  assert.deepEqual(hashes.map((hash) => engine.sketch.count(hash)), [0, 0, 0, 0]);
  // … until the entry leaves: then the key's history is the sketch's, as if counted at once.
  engine.remove(2);
  assert.equal(engine.sketch.count(hashes[2]!), 7);
  // An aging adds every pending use first, then halves: 3 → 1, 15 → 7, 7 → 3.
  engine.sketch.addUses(20 * 2048);
  assert.deepEqual(
    [hashes[1]!, hashes[2]!, hashes[3]!].map((hash) => engine.sketch.count(hash)),
    [1, 3, 7],
  );
  assert.deepEqual([1, 3].map((slot) => engine.estimate(slot)), [1, 7]);
  // The pending uses are gone from the slots (added once, not again on removal).
  engine.remove(3);
  assert.equal(engine.sketch.count(hashes[3]!), 7);
});

Deno.test("_Queues keeps the bits above the queue number for its owner's use", async () => {
  const { _Queues } = await import("../policies/_queues.ts");
  const queues = new _Queues(3, 4);
  queues.owner[2] = 0b1010_1000;
  queues.push(1, 2);
  assert.equal(queues.owner[2], 0b1010_1010);
  queues.unlink(2);
  assert.equal(queues.owner[2], 0b1010_1000);
  queues.push(2, 2);
  queues.move(0, 2);
  assert.equal(queues.owner[2], 0b1010_1001);
  assert.deepEqual([...queues.size], [1, 0, 0]);
  assert.throws(() => new _Queues(4, 4), {
    name: "RangeError",
    message: "_Queues: at most 3 queues",
  });
});
