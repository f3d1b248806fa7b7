/**
 * Errors of the workflow package (codes listed in docs/errors.md).
 *
 * @module
 */
import { StrandError } from '@strand/core';

/**
 * A workflow's `decide` returned something the runner cannot do (an undeclared deadline, a send
 * to an aggregate the runner has no repository for, an endless chain of refusals...): a bug in the
 * workflow. The instance is retried, then parked; other instances are not affected.
 */
export class InvalidWorkflowActionError extends StrandError {
  constructor(workflow: string, detail: string) {
    super('STRAND_INVALID_WORKFLOW_ACTION', 'internal', `Workflow ${workflow}: ${detail}. Fix decide().`, { details: { workflow, detail } });
  }
}
