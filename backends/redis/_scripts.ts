/**
 * The Lua script behind `RedisCache.inc`/`dec`: one atomic step that creates
 * a missing key with the cache's default ttl, checks that a stored value is a
 * canonical safe integer and that the result stays one, and otherwise runs
 * `INCRBY` (which keeps the key's expiry).
 *
 * `KEYS[1]` the key, `ARGV[1]` the delta (decimal), `ARGV[2]` the ttl in ms
 * for a created key (`"0"`: none). With `ARGV[3]` (stored bytes the caller
 * read and decoded to a safe integer: a number `set` wrote through the
 * serializer, `-0` included) and `ARGV[4]` (that integer plus the delta, as
 * decimal text): when the key still holds exactly `ARGV[3]`, it is replaced by
 * `ARGV[4]` keeping its expiry (compare-and-set, so a concurrent write is never
 * lost). Replies `{0, result}` (the result as
 * decimal text: node-redis 6.3.1 parses large integer replies inexactly), `{1, stored}` when
 * the stored value is not a safe integer, `{2, stored}` when the result would
 * leave the safe integer range.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** The script text (Lua 5.1; numbers are doubles, exact for safe integers). */
export const INC_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if not v then
  if ARGV[2] == '0' then
    redis.call('SET', KEYS[1], ARGV[1])
  else
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  end
  return {0, ARGV[1]}
end
if ARGV[3] and v == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[4], 'KEEPTTL')
  return {0, ARGV[4]}
end
if #v > 17 or not (v == '0' or string.match(v, '^%-?[1-9]%d*$')) then
  return {1, v}
end
local limit = 9007199254740991
local n = tonumber(v)
if n > limit or n < -limit then return {1, v} end
local r = n + tonumber(ARGV[1])
if r > limit or r < -limit then return {2, v} end
redis.call('INCRBY', KEYS[1], ARGV[1])
return {0, redis.call('GET', KEYS[1])}
`;

/** The script's SHA-1, for `EVALSHA`. */
export const INC_SHA: string = createHash("sha1").update(INC_SCRIPT).digest("hex");

/**
 * For `getMany`: the Redis type of each key in `KEYS` (`"none"` for a missing
 * one), to tell a miss from a key of another type, which `MGET` also answers
 * with nil.
 */
export const TYPES_SCRIPT = `
local types = {}
for i, key in ipairs(KEYS) do types[i] = redis.call('TYPE', key)['ok'] end
return types
`;

/** `TYPES_SCRIPT`'s SHA-1, for `EVALSHA`. */
export const TYPES_SHA: string = createHash("sha1").update(TYPES_SCRIPT).digest("hex");

/**
 * For the distributed lock's release (`backends/_lock.ts`): deletes `KEYS[1]` only while it
 * holds `ARGV[1]`; returns 1 when it deleted, else 0.
 */
export const DELETE_IF_EQUALS_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** `DELETE_IF_EQUALS_SCRIPT`'s SHA-1, for `EVALSHA`. */
export const DELETE_IF_EQUALS_SHA: string = createHash("sha1").update(DELETE_IF_EQUALS_SCRIPT)
  .digest("hex");

/**
 * For `add` over an entry no read returns (a stale getOrSet envelope, an invalidated tagged
 * entry; `RedisCache._addOverDead`): sets `KEYS[1]` to `ARGV[2]` (ttl `ARGV[3]` ms, `"0"`: none)
 * only while it still holds the bytes `ARGV[1]` the caller read and judged, so of concurrent
 * `add`s over one such entry exactly one stores; a key that emptied meanwhile is set too when
 * `ARGV[4]` is `"1"` (`add`; `touch` passes `"0"`: it does not revive a deleted key). Returns 1
 * when it stored, else 0.
 */
export const REPLACE_IF_EQUALS_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v then
  if v ~= ARGV[1] then return 0 end
elseif ARGV[4] ~= '1' then
  return 0
end
if ARGV[3] == '0' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
`;

/** `REPLACE_IF_EQUALS_SCRIPT`'s SHA-1, for `EVALSHA`. */
export const REPLACE_IF_EQUALS_SHA: string = createHash("sha1").update(REPLACE_IF_EQUALS_SCRIPT)
  .digest("hex");
