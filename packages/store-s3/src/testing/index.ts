/**
 * `@strand/store-s3/testing`: test doubles and helpers, kept out of the main entry so production
 * bundles do not carry them: an in-memory object store, a faulty object-store decorator that
 * injects seeded failures, a virtual clock for deterministic simulations, the local RGW for
 * integration tests, and request latencies with the follower staleness bound made of them.
 *
 * @packageDocumentation
 */
export { InMemoryObjectStore } from '../object-store/memory.js';
export { FaultyObjectStore } from '../object-store/faulty.js';
export type { FaultOptions } from '../object-store/faulty.js';
export { ensureRgw, rgwOptions, rgwStore, uniquePrefix, ENSURE_RGW_SCRIPT } from './rgw.js';
export type { RgwEnv } from './rgw.js';
export { SimClock } from './sim-clock.js';
export { LatencyRecordingStore, followerStalenessBound } from './latency.js';
export type { RequestLatencies, StalenessTerms } from './latency.js';
