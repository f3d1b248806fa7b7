/**
 * `@strand/projections/testing`: given/when/then specs and a fast-check property harness for
 * projections, on an in-memory log. Kept out of the main entry point so production bundles do not
 * carry fast-check.
 *
 * @packageDocumentation
 */
export { checkProjection, projectionScenario } from './harness.js';
export type { CheckProjectionOptions, GivenEvent, ProjectionSpec } from './harness.js';
