/**
 * `@strand/aggregate/testing`: given/when/then specs, a fast-check property harness and
 * arbitraries derived from zod schemas. Kept out of the main entry point so production bundles do
 * not carry fast-check.
 *
 * @packageDocumentation
 */
export { checkAggregate } from './property.js';
export type { CheckOptions, CheckReport, Invariant } from './property.js';
export { scenario } from './spec.js';
export type { Spec, SpecOutcome } from './spec.js';
export { arbitraryFromZod, arbitraryMessage } from './zod-arbitrary.js';
