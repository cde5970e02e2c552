// Which serializer should file and network backends use by default?
// Round trip (serialize + deserialize) of the same value, all candidates in
// one run:
//   deno bench --allow-all bench/serializer_bench.ts
// npm:msgpackr is imported here only as a candidate to measure; the library
// does not depend on it.
import { deserialize as v8Deserialize, serialize as v8Serialize } from "node:v8";
import { Packr } from "npm:msgpackr@1.9.9";
import { defaultSerializer, jsonSerializer } from "../mod.ts";

const small = { id: 7, name: "Ada Lovelace", email: "ada@example.com", admin: false, score: 97.5 };
const rich = {
  id: 7,
  name: "Ada Lovelace",
  joined: new Date("2024-01-02T03:04:05Z"),
  roles: new Set(["admin", "author"]),
  quota: 2n ** 40n,
};
const list = Array.from({ length: 100 }, (_, i) => ({ ...small, id: i }));
const packr = new Packr({ structuredClone: true });
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function candidates(group: string, value: unknown, jsonOk: boolean) {
  if (jsonOk) {
    Deno.bench("JSON.stringify + TextEncoder", { group, baseline: true }, () => {
      JSON.parse(decoder.decode(encoder.encode(JSON.stringify(value))));
    });
  }
  Deno.bench("defaultSerializer", { group, baseline: !jsonOk }, () => {
    defaultSerializer.deserialize(defaultSerializer.serialize(value));
  });
  if (jsonOk) {
    Deno.bench("jsonSerializer", { group }, () => {
      jsonSerializer.deserialize(jsonSerializer.serialize(value));
    });
  }
  Deno.bench("node:v8 serialize", { group }, () => {
    v8Deserialize(v8Serialize(value));
  });
  Deno.bench("msgpackr (structuredClone mode)", { group }, () => {
    packr.unpack(packr.pack(value));
  });
  Deno.bench("structuredClone (in-process only)", { group }, () => {
    structuredClone(value);
  });
}

candidates("5-field object", small, true);
candidates("object with Date, Set, BigInt", rich, false);
candidates("100 5-field objects", list, true);
