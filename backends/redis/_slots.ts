/**
 * Redis Cluster key → slot, as the cluster specification defines it: CRC16
 * (the XMODEM variant: polynomial 0x1021, initial value 0, no reflection) of
 * the key's UTF-8 bytes, modulo 16 384. When the key holds a hash tag — a
 * `{` followed later by a `}` with at least one byte between them — only the
 * bytes between the first `{` and the first `}` after it are hashed, so
 * `{user:1}:cart` and `{user:1}:name` share a slot. An empty tag (`{}`)
 * is not a tag: the whole key is hashed.
 *
 * `groupBySlot` splits a batch into one group per slot, keeping each key's
 * index in the batch, so a cluster-aware layer can send one command per
 * slot and put the answers back in order.
 *
 * @module
 */

/** The number of hash slots of a Redis Cluster. */
export const SLOT_COUNT = 16_384;

const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    }
    table[byte] = crc & 0xffff;
  }
  return table;
})();

const encoder = new TextEncoder();

/**
 * CRC16/XMODEM of `bytes` (from `start` to `end`), the checksum Redis
 * Cluster uses for slots.
 *
 * @param bytes The input.
 * @param start The first byte (default 0).
 * @param end One past the last byte (default the length).
 * @returns The 16-bit checksum.
 *
 * @example The check value of the specification
 * ```ts
 * import assert from "node:assert/strict";
 * import { crc16 } from "./_slots.ts";
 *
 * assert.equal(crc16(new TextEncoder().encode("123456789")), 0x31c3);
 * ```
 */
export function crc16(bytes: Uint8Array, start = 0, end: number = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) & 0xff00) ^ TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  }
  return crc;
}

/** The slot of a key already encoded as bytes. */
function slotOfBytes(bytes: Uint8Array): number {
  const open = bytes.indexOf(0x7b); // "{"
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // "}"
    if (close > open + 1) return crc16(bytes, open + 1, close) & (SLOT_COUNT - 1);
  }
  return crc16(bytes) & (SLOT_COUNT - 1);
}

/**
 * The Redis Cluster slot of `key` (what `CLUSTER KEYSLOT key` answers).
 *
 * @param key The key, as a string (hashed as UTF-8) or as bytes.
 * @returns A slot in `0..16383`.
 *
 * @example Hash tags put related keys in one slot
 * ```ts
 * import assert from "node:assert/strict";
 * import { keySlot } from "./_slots.ts";
 *
 * assert.equal(keySlot("foo"), 12182);
 * assert.equal(keySlot("{user:1}:cart"), keySlot("user:1"));
 * assert.equal(keySlot("foo{bar}{zap}"), keySlot("bar")); // the first tag counts
 * assert.notEqual(keySlot("foo{}{bar}"), keySlot("bar")); // an empty tag: the whole key
 * ```
 */
export function keySlot(key: string | Uint8Array): number {
  if (typeof key !== "string") return slotOfBytes(key);
  // ASCII keys (the common case) are hashed from their char codes, without encoding them.
  let start = 0;
  let end = key.length;
  const open = key.indexOf("{");
  if (open !== -1) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) [start, end] = [open + 1, close];
  }
  let crc = 0;
  for (let i = start; i < end; i++) {
    const code = key.charCodeAt(i);
    if (code > 0x7f) return slotOfBytes(encoder.encode(key));
    crc = ((crc << 8) & 0xff00) ^ TABLE[((crc >> 8) ^ code) & 0xff]!;
  }
  return crc & (SLOT_COUNT - 1);
}

/** The keys of one slot in a batch, with their positions in that batch. */
export interface SlotGroup<K> {
  /** The slot all these keys hash to. */
  readonly slot: number;
  /** The keys, in batch order. */
  readonly keys: K[];
  /** `indices[i]` is the position of `keys[i]` in the batch. */
  readonly indices: number[];
}

/**
 * Splits a batch of keys into one group per slot, in order of each slot's
 * first key; within a group keys keep batch order.
 *
 * @param keys The batch.
 * @returns One group per slot.
 *
 * @example Two tagged keys share a group
 * ```ts
 * import assert from "node:assert/strict";
 * import { groupBySlot } from "./_slots.ts";
 *
 * const groups = groupBySlot(["{u1}:a", "other", "{u1}:b"]);
 * assert.equal(groups.length, 2);
 * assert.deepEqual(groups[0]!.keys, ["{u1}:a", "{u1}:b"]);
 * assert.deepEqual(groups[0]!.indices, [0, 2]);
 * ```
 */
export function groupBySlot<K extends string | Uint8Array>(keys: readonly K[]): SlotGroup<K>[] {
  const bySlot = new Map<number, SlotGroup<K>>();
  keys.forEach((key, index) => {
    const slot = keySlot(key);
    let group = bySlot.get(slot);
    if (!group) bySlot.set(slot, group = { slot, keys: [], indices: [] });
    group.keys.push(key);
    group.indices.push(index);
  });
  return [...bySlot.values()];
}
