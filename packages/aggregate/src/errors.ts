/**
 * Errors of the aggregate package. All extend core's `StrandError`, so callers test them with
 * `isStrandError(error, code)` like every other Strand error (codes listed in docs/errors.md).
 *
 * @module
 */
import { StrandError } from '@strand/core';

/**
 * `decide` refused the command: a business rule said no (insufficient funds, account closed...).
 * `reason` is the aggregate's own stable code for the rule. Nothing was written.
 */
export class DomainError extends StrandError {
  /** The aggregate's code for the broken rule, e.g. `INSUFFICIENT_FUNDS`. */
  readonly reason: string;

  constructor(reason: string, message: string, details: Record<string, unknown> = {}) {
    super('STRAND_DOMAIN_REJECTED', 'conflict', message, { details: { reason, ...details } });
    this.reason = reason;
  }
}

/** A command (or its id) failed its schema: nothing was decided or written. */
export class InvalidCommandError extends StrandError {
  constructor(aggregate: string, type: string, issues: readonly { path: readonly PropertyKey[]; message: string }[]) {
    const list = issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
    super('STRAND_INVALID_COMMAND', 'invalid', `Command ${type} of ${aggregate} is invalid: ${list}. Fix the command to match its schema.`, {
      details: { aggregate, type, issues: issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
    });
  }
}

/** `decide` returned an event that is not declared or fails its schema: a bug in the aggregate. */
export class InvalidDecisionError extends StrandError {
  constructor(aggregate: string, detail: string) {
    super('STRAND_INVALID_DECISION', 'internal', `${aggregate}.decide produced an invalid event: ${detail}. Fix decide() so it only emits declared, valid events.`, {
      details: { aggregate, detail },
    });
  }
}

/** The command lost the optimistic-concurrency race more times than allowed. Nothing was written. */
export class ConcurrencyRetriesExhaustedError extends StrandError {
  constructor(stream: string, attempts: number) {
    super(
      'STRAND_CONCURRENCY_RETRIES_EXHAUSTED',
      'conflict',
      `Command on "${stream}" conflicted with concurrent writers ${attempts} times; nothing was written. Retry later, or raise maxRetries if this stream is this hot.`,
      { details: { stream, attempts } },
    );
  }
}

/**
 * No usable snapshot and the history before it was truncated, so the state cannot be rebuilt
 * (typically: the state schema changed after history was truncated). Nothing was written.
 */
export class StateUnrecoverableError extends StrandError {
  constructor(stream: string, truncatedBefore: number, why: string) {
    super(
      'STRAND_STATE_UNRECOVERABLE',
      'data',
      `Cannot load "${stream}": ${why}, and events before version ${truncatedBefore} were truncated. Give the aggregate a migrateSnapshot function for old state versions, or restore the archived events.`,
      { details: { stream, truncatedBefore, why } },
    );
  }
}

/**
 * A command id was used before for a different command (another type or payload) on the same
 * aggregate: the new command is refused rather than silently answered with the first one's
 * result. Nothing was written. Code `STRAND_COMMAND_ID_REUSED`.
 */
export class CommandIdReusedError extends StrandError {
  constructor(stream: string, commandId: string, commandType: string, expired = false) {
    super(
      'STRAND_COMMAND_ID_REUSED',
      'invalid',
      expired
        ? `Command id "${commandId}" was handled on "${stream}" longer ago than commandIdRetentionMs, so its result is no longer kept; the log still holds its events, so this ${commandType} was not applied again and nothing was written. Use a fresh command id for each new command.`
        : `Command id "${commandId}" was already used on "${stream}" for a different command; this ${commandType} was not handled and nothing was written. Use a fresh command id for each new command, and re-send an id only with the very same command.`,
      { details: { stream, commandId, commandType, expired } },
    );
  }
}

/**
 * An event stored in the aggregate's stream does not match the aggregate's schema for it (or has
 * a type the aggregate does not declare): it was appended by a process or tool that did not
 * enforce the schema. Not a bug in `decide`. Code `STRAND_STORED_EVENT_INVALID`.
 */
export class StoredEventInvalidError extends StrandError {
  constructor(aggregate: string, event: { stream: string; version: number; position: number; type: string }, problem: string) {
    super(
      'STRAND_STORED_EVENT_INVALID',
      'data',
      `Stored event ${event.type} at "${event.stream}" version ${event.version} (position ${event.position}) does not fit aggregate ${aggregate}: ${problem}. It was appended without ${aggregate}'s schema being enforced; decide() is not at fault. Give the aggregate a repair for ${event.type} (repair: { ${event.type}: (data) => fixed data, or null to skip it }) so the stream loads again, and append a compensating event so the history says what was corrected (docs/design/0006-schemas.md, "Events stored before a schema").`,
      { details: { aggregate, stream: event.stream, version: event.version, position: event.position, type: event.type, problem } },
    );
  }
}
