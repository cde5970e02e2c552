/**
 * What the value rule costs MemoryCache on a structured value: the walk that refuses what
 * `structuredClone` would silently turn into `{}` (a nested URL) or share (a
 * SharedArrayBuffer), against the clone itself.
 *
 * Run: `deno bench bench/clone_rule_bench.ts`
 */
import { _cloneRuleProblem } from "../serializers/_clone_rule.ts";

const value = {
  at: new Date(0),
  tags: new Set(["a", "b"]),
  n: 1,
  nested: { list: [1, 2, 3], m: new Map([["k", 1]]) },
};

Deno.bench("structuredClone (baseline)", { group: "structured value", baseline: true }, () => {
  structuredClone(value);
});
Deno.bench("value-rule walk", { group: "structured value" }, () => {
  _cloneRuleProblem(value);
});
