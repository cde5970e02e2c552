// The round harness of architecture_rounds.ts and production_rounds.ts, robust to a loaded
// machine: each contender runs its own loop of LOOP awaited calls, contenders take turns for
// ROUNDS rounds (env `ROUNDS`, default 15), and each one's minimum and median ns per call are
// printed against the first contender's.

export const LOOP = 200_000;
export const N = 1000;
export const keys: string[] = Array.from({ length: N }, (_, i) => `key:${i}`);

/** One contender's loop: resolves the mean ns per call of one run. */
export type Loop = () => Promise<number>;

/**
 * A loop of LOOP `await`s of `call` (an expression over `target`, `keys`, `extra` and the loop
 * index `i`), compiled from its own source text (`new Function`), so no call site inside a loop
 * is shared between contenders: a shared loop makes the call polymorphic and measures the
 * dispatch, not the contender.
 */
export function ownLoop(call: string, target: unknown, extra?: unknown): Loop {
  return new Function(
    "target",
    "keys",
    "extra",
    `return async () => {
      const start = performance.now();
      for (let i = 0; i < ${LOOP}; i++) await ${call};
      return ((performance.now() - start) * 1e6) / ${LOOP};
    };`,
  )(target, keys, extra);
}

/** Warms every loop up, runs the rounds, prints the table (ratios to the first contender). */
export async function runRounds(contenders: [string, Loop][]): Promise<void> {
  const rounds = Number(Deno.env.get("ROUNDS") ?? 15);
  const samples = contenders.map(() => [] as number[]);
  for (const [, loop] of contenders) await loop(); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const [i, [, loop]] of contenders.entries()) samples[i]!.push(await loop());
  }
  const base = samples[0]!.toSorted((a, b) => a - b);
  const med = (x: number[]) => x[Math.floor(x.length / 2)]!;
  console.log(`| contender | min ns | median ns | min / first min | median / first median |`);
  console.log(`| --- | ---: | ---: | ---: | ---: |`);
  for (const [i, [name]] of contenders.entries()) {
    const s = samples[i]!.toSorted((a, b) => a - b);
    console.log(
      `| ${name} | ${s[0]!.toFixed(1)} | ${med(s).toFixed(1)} | ${
        (s[0]! / base[0]!).toFixed(2)
      } | ${(med(s) / med(base)).toFixed(2)} |`,
    );
  }
}
