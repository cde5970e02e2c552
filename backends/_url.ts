/**
 * The contract between a backend and `cacheFromUrl`: each backend describes its URL scheme in a
 * {@linkcode UrlScheme} beside it (`backends/<name>/_url.ts`), and `url.ts` is a list of these
 * descriptors that does the generic work (splitting the URL, typing the query parameters,
 * keeping credentials out of errors) and knows no backend.
 *
 * A descriptor imports its backend's class, so it is only reached through `url.ts`: a program
 * that imports one backend's entry point (`@cachelib/cachelib/memory`) loads no descriptor.
 *
 * @module
 */
import type { Cache } from "../cache.ts";

/**
 * How a query parameter's text becomes an option value; the error names what was expected:
 * - `"integer"`: digits only, read as a number (`an integer >= 0`);
 * - `"ms"`: the same, a duration (`an integer >= 0 (ms)`);
 * - `"boolean"`: `true` or `false`;
 * - `"fileMode"`: an octal mode such as `0600`, read as a number;
 * - `"name"`: letters, digits, `.`, `_`, `-`, not only dots (safe as a directory name);
 * - `"text"`: any text, kept as is;
 * - `"list"`: any text, and the parameter may repeat: the option is the array of its values;
 * - `{ oneOf }`: one of the names `oneOf()` returns at the time of parsing.
 */
export type UrlParam =
  | "integer"
  | "ms"
  | "boolean"
  | "fileMode"
  | "name"
  | "text"
  | "list"
  | { readonly oneOf: () => readonly string[] };

/** The pieces of a cache URL that a descriptor's {@linkcode UrlScheme.options} reads. */
export interface UrlParts {
  /** The scheme as written, lower-cased: `"rediss"` for a `rediss://` URL read by `redis`. */
  readonly scheme: string;
  /** Everything between `://` and the path, credentials included (`"u:pw@h:1,h2"`). */
  readonly authority: string;
  /** The path as written (`"/0"`), for checks on the raw text. */
  readonly rawPath: string;
  /** The path percent-decoded (`"/my app"`); `""` when there is none. */
  readonly path: string;
  /** The query parameters, already typed as the descriptor's `params` say. */
  readonly params: Record<string, unknown>;
  /** Throws the TypeError `cacheFromUrl` throws, with `why` after the (redacted) URL. */
  fail(why: string): never;
  /** Fails unless the URL has no host. */
  noHost(): void;
  /** Fails unless the URL has no path (or just `/`). */
  noPath(): void;
  /**
   * `host[:port]` or `[ipv6][:port]` as `host:port`, checked; without `defaultPort` the port
   * is required.
   */
  hostPort(text: string, defaultPort?: number): string;
}

/**
 * What `cacheFromUrl` needs to know about one backend: its scheme, the query parameters it
 * accepts, how a parsed URL becomes constructor options, and how to construct.
 *
 * @typeParam S The scheme, which is also the `scheme` that `parseCacheUrl` reports.
 * @typeParam O The constructor options the URL gives.
 */
export interface UrlScheme<S extends string, O extends object> {
  /** The scheme without `://`, lower case: `"memory"`. */
  readonly scheme: S;
  /** Other schemes read the same way (`["rediss"]` for `redis`). */
  readonly aliases?: readonly string[];
  /** Whether the URL may carry `user:password@`; without this such a URL is rejected. */
  readonly credentials?: boolean;
  /** The accepted query parameters and their types, in the order errors list them. */
  readonly params: Readonly<Record<string, UrlParam>>;
  /** The constructor options for `url`; calls `url.fail(…)` for what the scheme cannot take. */
  options(url: UrlParts): O;
  /** Constructs the backend; `options` are the URL's, with the caller's merged over them. */
  create(options: O & Record<string, unknown>): Cache;
}
