// Redis Cluster key slots: the CRC16 of the cluster specification, hash tags,
// grouping a batch by slot, and agreement with a real cluster's CLUSTER KEYSLOT.
import assert from "node:assert/strict";
import { crc16, groupBySlot, keySlot, SLOT_COUNT } from "../backends/redis/_slots.ts";
import { redisCommands, startRedisCluster, topologyTest } from "./cluster_servers.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("crc16() is CRC16/XMODEM, the variant of the Redis Cluster specification", () => {
  // The check value the specification's reference implementation states.
  assert.equal(crc16(bytes("123456789")), 0x31c3);
  assert.equal(crc16(new Uint8Array()), 0);
  assert.equal(crc16(bytes("A")), 0x58e5);
  assert.equal(crc16(bytes("xxx123456789yyy"), 3, 12), 0x31c3, "a sub-range");
});

Deno.test("keySlot() hashes the first non-empty {tag} and otherwise the whole key", async (t) => {
  await t.step("slots known from redis-cli CLUSTER KEYSLOT", () => {
    assert.equal(keySlot("foo"), 12182);
    assert.equal(keySlot("bar"), 5061);
    assert.equal(keySlot(""), 0);
  });
  await t.step("the examples of the specification", () => {
    // {user1000}.following and {user1000}.followers share a slot.
    assert.equal(keySlot("{user1000}.following"), keySlot("user1000"));
    assert.equal(keySlot("{user1000}.followers"), keySlot("user1000"));
    // foo{}{bar}: the first { is followed by } with nothing between: whole key.
    assert.equal(keySlot("foo{}{bar}"), crc16(bytes("foo{}{bar}")) % SLOT_COUNT);
    // foo{{bar}}zap: the tag is "{bar".
    assert.equal(keySlot("foo{{bar}}zap"), keySlot("{bar"));
    // foo{bar}{zap}: only the first tag counts.
    assert.equal(keySlot("foo{bar}{zap}"), keySlot("bar"));
  });
  await t.step("an unclosed brace is part of the key", () => {
    assert.equal(keySlot("{user1000"), crc16(bytes("{user1000")) % SLOT_COUNT);
    assert.equal(keySlot("}x{"), crc16(bytes("}x{")) % SLOT_COUNT);
  });
  await t.step("strings are hashed as UTF-8, like the same bytes", () => {
    assert.equal(keySlot("ключ{é}"), keySlot(bytes("é")));
    assert.equal(keySlot("😀"), keySlot(bytes("😀")));
  });
});

Deno.test("groupBySlot() keeps each key's batch index and batch order within a slot", () => {
  const keys = ["{a}1", "x", "{a}2", "y", "{a}3", "x"];
  const groups = groupBySlot(keys);
  const tagged = groups.find((g) => g.slot === keySlot("a"))!;
  assert.deepEqual(tagged.keys, ["{a}1", "{a}2", "{a}3"]);
  assert.deepEqual(tagged.indices, [0, 2, 4]);
  const x = groups.find((g) => g.slot === keySlot("x"))!;
  assert.deepEqual(x.indices, [1, 5], "a repeated key stays twice");
  // Every index appears exactly once across the groups.
  const all = groups.flatMap((g) => g.indices).sort((a, b) => a - b);
  assert.deepEqual(all, [0, 1, 2, 3, 4, 5]);
  for (const group of groups) {
    group.keys.forEach((key, i) => assert.equal(keys[group.indices[i]!], key));
  }
  assert.deepEqual(groupBySlot([]), []);
});

/** A small seeded PRNG (mulberry32), so the keys are the same on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 2 000 keys: ASCII, braces in every position, and non-ASCII code points. */
function awkwardKeys(): string[] {
  const next = random(13);
  const alphabet = [
    ..."abcxyz019:{}{}_-. ",
    "é",
    "ß",
    "ключ",
    "中文",
    "😀",
    "\u0000",
    "\u{10ffff}",
  ];
  const keys = ["", "{", "}", "{}", "{}{}", "{{}}", "a{b}c{d}", "{a}", "}{a}", "😀{😀}"];
  while (keys.length < 2000) {
    const length = 1 + Math.floor(next() * 12);
    let key = "";
    for (let i = 0; i < length; i++) key += alphabet[Math.floor(next() * alphabet.length)];
    keys.push(key);
  }
  return keys;
}

Deno.test("keySlot() of a string equals keySlot() of its UTF-8 bytes for 2 000 awkward keys", () => {
  // The string path skips encoding ASCII; it must agree with the byte path everywhere.
  const encoder = new TextEncoder();
  const differ = awkwardKeys().filter((key) => keySlot(key) !== keySlot(encoder.encode(key)));
  assert.deepEqual(differ, []);
});

topologyTest(
  "keySlot() agrees with CLUSTER KEYSLOT of a real cluster for 2 000 awkward keys",
  "redis-cluster",
  async () => {
    await using cluster = await startRedisCluster({ masters: 3 });
    const keys = awkwardKeys();
    const replies = await redisCommands(
      cluster.masters[0]!.port,
      keys.map((key) => ["CLUSTER", "KEYSLOT", key]),
    );
    const mismatches = keys.filter((key, i) => replies[i] !== keySlot(key));
    assert.deepEqual(mismatches, []);
    // The keys cover many slots, so this is not a check of one slot.
    assert.ok(new Set(replies).size > 1500, `only ${new Set(replies).size} distinct slots`);
  },
);
