/**
 * Test helpers of `@strand/store-s3`: the local RGW for integration tests and a virtual clock for
 * deterministic simulations.
 *
 * @module
 */
export { ensureRgw, rgwOptions, rgwStore, uniquePrefix, ENSURE_RGW_SCRIPT } from './rgw.js';
export type { RgwEnv } from './rgw.js';
export { SimClock } from './sim-clock.js';
