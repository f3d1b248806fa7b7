/**
 * `@strand/workflow/testing`: given/when/then specs and a fast-check property harness for
 * workflows, on the runner's step semantics without a log. Kept out of the main entry point so
 * production bundles do not carry fast-check.
 *
 * @packageDocumentation
 */
export { checkWorkflow } from './property.js';
export type { CheckWorkflowOptions, CheckWorkflowReport, TraceStep } from './property.js';
export { workflowScenario } from './spec.js';
export type { WorkflowOutcome, WorkflowSpec } from './spec.js';
export { freshInstance, simulateStep } from './step.js';
export type { Refuse, SimulatedInstance, SimulatedStep } from './step.js';
