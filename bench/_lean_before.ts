// memoize and the default serializer as of an earlier commit, for "before" rows in the same run
// as today's code: memoize.ts, _memo_keys.ts and serializers/default.ts, loaded by
// bench/_before.ts.
import type { defaultSerializer, memoize } from "../mod.ts";
import { filesBefore } from "./_before.ts";

/** The old `memoize` and `defaultSerializer`, or `undefined` where git cannot show `commit`. */
export async function loadLeanBefore(commit: string): Promise<
  { memoize: typeof memoize; defaultSerializer: typeof defaultSerializer } | undefined
> {
  const base = await filesBefore(commit, ["memoize.ts", "_memo_keys.ts", "serializers/default.ts"]);
  if (base === undefined) return undefined;
  const { memoize } = await import(`${base}memoize.ts`);
  const { defaultSerializer } = await import(`${base}serializers/default.ts`);
  return { memoize, defaultSerializer };
}
