// Does a memoized hit cost less than 1 µs above a raw MemoryCache.get of the
// same key? Every group has the raw get as its baseline, in the same run.
import { memoize, MemoryCache } from "../mod.ts";

const cache = new MemoryCache({ maxEntries: 1000, defaultTtl: 0 });

const square = memoize(function square(n: number): number {
  return n * n;
}, { cache });
const squareKey = square.keyFor(12);
await square(12);

const query = { kind: "user", id: 12, fields: ["name", "email"] };
const search = memoize(function search(q: typeof query, page: number) {
  return { q, page, hits: [1, 2, 3] };
}, { cache });
const searchKey = search.keyFor(query, 1);
await search(query, 1);

const produce = () => 144;
await cache.getOrSet("getOrSet:12", produce);

Deno.bench(
  "raw MemoryCache.get, number result",
  { group: "number arg", baseline: true },
  async () => {
    await cache.get(squareKey);
  },
);
Deno.bench("memoized hit, square(12)", { group: "number arg" }, async () => {
  await square(12);
});
Deno.bench("cache.getOrSet hit (for comparison)", { group: "number arg" }, async () => {
  await cache.getOrSet("getOrSet:12", produce);
});

Deno.bench(
  "raw MemoryCache.get, object result",
  { group: "object arg", baseline: true },
  async () => {
    await cache.get(searchKey);
  },
);
Deno.bench("memoized hit, search({…}, 1)", { group: "object arg" }, async () => {
  await search(query, 1);
});
Deno.bench("key derivation + raw get (what the hit costs at least)", {
  group: "object arg",
}, async () => {
  await cache.get(search.keyFor(query, 1));
});

const searchArgs = [query, 1];
Deno.bench("JSON.stringify of the same arguments", { group: "key only", baseline: true }, () => {
  JSON.stringify(searchArgs);
});
Deno.bench("key of one number", { group: "key only" }, () => {
  square.keyFor(12);
});
Deno.bench("key of an object and a number", { group: "key only" }, () => {
  search.keyFor(query, 1);
});
