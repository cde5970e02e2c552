/**
 * The error of a call on many keys or servers that failed part-way: what was
 * done and what failed, in the message and in structured fields. Shared by
 * every backend whose batches can fail part-way (memcached, filesystem, uWSGI).
 *
 * @module
 */
import { _describe, CacheBatchError, CacheError } from "../../cache.ts";

/**
 * Throws for `results` of a batch over `names` unless every one succeeded. When
 * something was done (`done` is not empty), a `CacheBatchError` listing it under
 * `field`; when nothing was, the first failure itself.
 *
 * @param what The call, for the message (`"setMany"`).
 * @param unit What `names` are (`"keys"`, `"servers"`).
 * @param field Where `done` goes: `stored`, `deleted` or `flushed`.
 */
export function throwIfFailed(
  what: string,
  unit: string,
  results: PromiseSettledResult<unknown>[],
  names: readonly string[],
  field: "stored" | "deleted" | "flushed",
  done: string[],
): void {
  const failed: Error[] = [];
  results.forEach((result, i) => {
    if (result.status === "fulfilled") return;
    const reason = result.reason;
    failed.push(
      reason instanceof Error ? reason : new CacheError(`${names[i]}: ${String(reason)}`),
    );
  });
  if (failed.length === 0) return;
  if (done.length === 0) throw failed[0]; // nothing done: the failure itself
  throw new CacheBatchError(
    `Cannot ${what}: ${failed.length} of ${names.length} ${unit} failed (first: ${
      failed[0]!.message
    }); ${field} ${done.length}: ${listed(done)}`,
    { [field]: done },
    { cause: failed[0] },
  );
}

/** Up to 10 quoted names for a message, then how many more. */
function listed(names: readonly string[]): string {
  const shown = names.slice(0, 10).map((name) => _describe(name)).join(", ");
  return names.length > 10 ? `${shown} and ${names.length - 10} more` : shown;
}
