/**
 * `@strand/core/testing`: the conformance suite every storage backend runs, and test helpers.
 * Kept out of the main entry point so production bundles do not carry them.
 *
 * @packageDocumentation
 */
export { collect, errorCode, events, runLogConformance, runStoreConformance } from './conformance.js';
export type { ConformanceOptions, StoreConformanceOptions, StoreHarness } from './conformance.js';
export { dirSize } from '../dir-size.js';
