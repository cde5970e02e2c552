/**
 * Tags: `set(key, value, { ttl, tags })` and `invalidateTags(tags)`, one design for every
 * backend, built on a cache's own hooks (so it works wherever `BaseCache` does).
 *
 * - **A tag's version** is an integer under the reserved key `"\u0000cachelib:tag\u0000" + tag`,
 *   created by `add` with a random start and no ttl. `invalidateTags(tags)` is one `inc` per tag.
 * - **A tagged entry** is stored as `{ "\u0000cachelib:tagged": [tag, version, …], v: value }`:
 *   the versions its tags had when it was written (read with one `getMany`).
 * - **A read** of a tagged entry fetches its tags' versions in one `getMany` (for `getMany`, one
 *   for the tags of all its keys) and treats any change as a miss. An untagged read pays one
 *   `typeof` (the marker is looked for only on objects, as for getOrSet's envelope).
 *
 * @module
 */
import { _describe, _opAndKey } from "../cache.ts";

/** The property that marks a tagged entry. */
export const TAG_MARK = "\u0000cachelib:tagged";

/**
 * What every key cachelib stores for its own bookkeeping begins with: tag versions (`tag\0`),
 * namespace generations (`gen\0`) and namespaced entries (`ns\0`, see `_namespace.ts`),
 * distributed locks (`lock\0`, see `_lock.ts`). `keys(prefix)` does not list a key that begins
 * with it unless `prefix` does too (see `isReserved`); keys beginning with it are reserved.
 */
export const RESERVED_PREFIX = "\u0000cachelib:";

/**
 * Whether `key` is cachelib's bookkeeping (begins with {@linkcode RESERVED_PREFIX}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isReserved } from "./_tags.ts";
 *
 * assert.equal(isReserved("\u0000cachelib:tag\u0000red"), true);
 * assert.equal(isReserved("\u0000cachelib"), false);
 * assert.equal(isReserved("user:1"), false);
 * ```
 */
export function isReserved(key: string): boolean {
  return key.charCodeAt(0) === 0 && key.startsWith(RESERVED_PREFIX);
}

/** The key of `tag`'s version counter. */
export const tagKey = (tag: string): string => `${RESERVED_PREFIX}tag\u0000${tag}`;

/** A stored tagged entry: its tags with the versions they had, and the value. */
export interface TaggedEntry {
  /** `[tag, version, tag, version, …]`. */
  [TAG_MARK]: (string | number)[];
  /** The value. */
  v: unknown;
}

/** The options form of `set`/`add`/`setMany`'s third argument. */
export interface SetOptions {
  /** The ttl in ms; `0` = never expire; absent = the cache's `defaultTtl`. */
  ttl?: number | undefined;
  /** Tags of the entry: `invalidateTags` of any of them drops it. Non-empty strings. */
  tags?: readonly string[] | undefined;
}

const SET_OPTIONS = ["ttl", "tags"];

/** Whether `value` (an object) is a tagged entry. */
export function isTagged(value: unknown): value is TaggedEntry {
  return typeof value === "object" && value !== null &&
    Array.isArray((value as Record<string, unknown>)[TAG_MARK]);
}

/**
 * Checks `tags`: an array of non-empty strings, duplicates dropped.
 *
 * @throws {TypeError} Not an array, or an element that is not a non-empty string.
 */
export function checkTags(op: string, key: string | undefined, tags: unknown): string[] {
  if (!Array.isArray(tags)) {
    throw new TypeError(
      `Cannot ${_opAndKey(op, key)}: tags must be an array of strings, received ${_describe(tags)}`,
    );
  }
  for (const tag of tags) {
    if (typeof tag !== "string" || tag === "") {
      throw new TypeError(
        `Cannot ${_opAndKey(op, key)}: every tag must be a non-empty string, received ${
          _describe(tag)
        }`,
      );
    }
  }
  return [...new Set(tags as string[])];
}

/**
 * Splits set's third argument (a ttl, `undefined` or {@linkcode SetOptions}) into the ttl (left
 * for `resolveTtl` to check) and the checked tags (`undefined` when none).
 *
 * @throws {TypeError} An unknown option, or bad tags.
 */
export function splitSetOptions(
  op: string,
  key: string | undefined,
  third: unknown,
): { ttl: unknown; tags: string[] | undefined } {
  if (typeof third !== "object" || third === null || Array.isArray(third)) {
    return { ttl: third, tags: undefined };
  }
  const unknown = Object.keys(third).filter((name) => !SET_OPTIONS.includes(name));
  if (unknown.length > 0) {
    throw new TypeError(
      `Cannot ${_opAndKey(op, key)}: unknown option${unknown.length > 1 ? "s" : ""} ${
        unknown.map((name) => JSON.stringify(name)).join(", ")
      } (accepted: tags, ttl)`,
    );
  }
  const { ttl, tags } = third as SetOptions;
  if (tags === undefined) return { ttl, tags: undefined };
  const checked = checkTags(op, key, tags);
  return { ttl, tags: checked.length > 0 ? checked : undefined };
}

/** A random start for a new tag version, so one evicted and re-created cannot revive entries. */
export function randomStart(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! >>> 1;
}

/** Whether every tag of `entry` still has the version it was written with. */
export function stillValid(entry: TaggedEntry, versions: ReadonlyMap<string, unknown>): boolean {
  const pairs = entry[TAG_MARK];
  for (let i = 0; i < pairs.length; i += 2) {
    if (versions.get(pairs[i] as string) !== pairs[i + 1]) return false;
  }
  return true;
}

/** The distinct tags of `entries`. */
export function tagsOf(entries: readonly TaggedEntry[]): string[] {
  const tags = new Set<string>();
  for (const entry of entries) {
    const pairs = entry[TAG_MARK];
    for (let i = 0; i < pairs.length; i += 2) tags.add(pairs[i] as string);
  }
  return [...tags];
}
