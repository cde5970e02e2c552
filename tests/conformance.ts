/**
 * Moved to the top-level `testing.ts` (`@cachelib/cachelib/testing`); this re-export keeps
 * old imports working for a transition.
 *
 * @module
 */
export * from "../testing.ts";
