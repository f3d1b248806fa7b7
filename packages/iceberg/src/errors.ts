/**
 * Errors of the Iceberg export (codes listed in docs/errors.md).
 *
 * @module
 */
import { StrandError } from '@strand/core';

/**
 * A new version of an event type changes a column in a way an Iceberg v2 schema cannot evolve to
 * (a type change other than int -> long or float -> double). Nothing was written to the table.
 * Code `STRAND_ICEBERG_SCHEMA_INCOMPATIBLE`.
 */
export class IcebergSchemaError extends StrandError {
  /** One line per column that cannot evolve. */
  readonly problems: readonly string[];

  constructor(table: string, problems: readonly string[]) {
    super(
      'STRAND_ICEBERG_SCHEMA_INCOMPATIBLE',
      'invalid',
      `The Iceberg table ${table} cannot take the registry's current schema: ${problems.join('; ')}. Iceberg v2 adds optional columns and widens int to long and float to double, nothing else; export the new version to a new table, or add the field under a new name.`,
      { details: { table, problems } },
    );
    this.problems = problems;
  }
}

/**
 * The table exists but holds other event types than the export asks for, or is not a table this
 * exporter can write (format version, partition spec). Code `STRAND_ICEBERG_TABLE_MISMATCH`.
 */
export class IcebergTableMismatchError extends StrandError {
  constructor(table: string, reason: string, details: Record<string, unknown> = {}) {
    super('STRAND_ICEBERG_TABLE_MISMATCH', 'invalid', `The Iceberg table ${table} ${reason}.`, { details: { table, ...details } });
  }
}

/**
 * A commit kept losing to other writers of the same table (more than `maxCommitRetries`
 * attempts). Nothing of this commit is visible. Code `STRAND_ICEBERG_COMMIT_CONFLICT`.
 */
export class IcebergCommitConflictError extends StrandError {
  constructor(table: string, attempts: number) {
    super('STRAND_ICEBERG_COMMIT_CONFLICT', 'conflict', `Gave up committing to the Iceberg table ${table} after ${attempts} attempts lost to other writers. Retry later.`, {
      details: { table, attempts },
    });
  }
}

/**
 * Table metadata or a manifest does not parse or breaks the spec (a metadata file that is not
 * JSON, a missing required field, a table UUID that changed). Code `STRAND_ICEBERG_CORRUPT`.
 */
export class IcebergCorruptionError extends StrandError {
  constructor(table: string, what: string, cause?: unknown) {
    super('STRAND_ICEBERG_CORRUPT', 'data', `The Iceberg table ${table} is damaged: ${what}.`, { details: { table, what }, ...(cause === undefined ? {} : { cause }) });
  }
}
