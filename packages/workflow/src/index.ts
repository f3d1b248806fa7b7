/**
 * `@strand/workflow`: workflows (process managers) on the Strand log, defined as data like
 * deciders, with durable deadlines, compensation and exactly-once steps committed atomically with
 * the commands they send. The test harness is in `@strand/workflow/testing`.
 *
 * @packageDocumentation
 */
export { cancel, complete, defineWorkflow, schedule, send } from './define.js';
export type {
  CancelAction,
  CompleteAction,
  DeadlineInput,
  EventInput,
  InputSource,
  RejectedInput,
  Rejection,
  ScheduleAction,
  SendAction,
  TriggerEvent,
  Workflow,
  WorkflowAction,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowInput,
} from './define.js';
export { InvalidWorkflowActionError } from './errors.js';
export { WorkflowRunner } from './runner.js';
export type { AnyRepository, InstanceView, ParkedInstance, WorkflowRunnerOptions, WorkflowStats } from './runner.js';
