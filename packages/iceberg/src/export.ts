/**
 * Exporting the log to an Iceberg table: once (`exportIceberg`, from the table's position to the
 * log's head) or continuously (`IcebergSink`, following the log and committing every N events or
 * T milliseconds). Both resume from the position stored in the current snapshot's summary, so a
 * restarted or crashed exporter continues exactly after the last committed event.
 * Design: docs/design/0009-iceberg.md.
 *
 * @module
 */
import { InvalidArgumentError, type RecordedEvent, type SchemaRegistry } from '@strand/core';
import { type AppendOutcome, appendBatch } from './append.js';
import { IcebergTableMismatchError } from './errors.js';
import { openTableIO, type TableIO } from './io.js';
import { initialSchema, mergeColumns, type PayloadColumn, payloadColumns } from './schema.js';
import { exportedPosition, IcebergTable, partitionSpecFor } from './table.js';

/** Options shared by {@link exportIceberg} and {@link IcebergSink}. */
export interface IcebergTableOptions {
  /** Registered event types the table holds (one table may hold several; it is then partitioned by type too). */
  types: readonly string[];
  /** The table: a directory, a `file://` URI, `s3://bucket/prefix?endpoint=...`, or a {@link TableIO}. */
  table: string | TableIO;
  /** Rows per data file at most (default 1,000,000). */
  rowsPerFile?: number;
  /** Commit attempts before `STRAND_ICEBERG_COMMIT_CONFLICT` (default 20). */
  maxCommitRetries?: number;
  /** Clock (ms since the epoch) for snapshot and metadata times. */
  clock?: () => number;
  /**
   * Keep at most this many snapshots: each commit drops the oldest beyond it (and their manifest
   * lists), so the metadata, and the time of a commit, stop growing with the table's age
   * (default: keep every snapshot until `expireSnapshots`). Run `removeOrphanFiles` now and then
   * to delete manifests and compacted data files only dropped snapshots referenced.
   */
  retainSnapshots?: number;
}

/** Options of {@link exportIceberg}. */
export interface IcebergExportOptions extends IcebergTableOptions {
  /** Last log position to export (default: the log's head when the export starts). */
  to?: number;
  /** Events per snapshot at most (default 1,000,000): a long catch-up commits as it goes. */
  commitEvery?: number;
}

/** What {@link exportIceberg} did. */
export interface IcebergExportResult {
  /** The table location. */
  table: string;
  /** Positions scanned: `[from, to]` (`from > to`: nothing new). */
  from: number;
  to: number;
  /** Snapshots committed, rows and data files added. */
  snapshots: number;
  rows: number;
  files: number;
  /** Events of the types skipped because they were written before their type was registered. */
  skipped: number;
}

/** A commit of the sink. */
export interface IcebergCommit {
  snapshotId: number;
  rows: number;
  files: number;
  /** The last log position the table now holds. */
  position: number;
}

/** Reads batches of events for a table and commits them; the exactly-once bookkeeping. */
class Batcher {
  /** Position the table holds (after the last commit this batcher saw). */
  position: number;
  /** Last log position scanned (>= position). */
  scanned: number;
  rows: RecordedEvent[] = [];
  skipped = 0;
  /** Bumped when scanning restarts from another position. */
  epoch = 0;
  private readonly types: Set<string>;

  private constructor(
    readonly registry: SchemaRegistry,
    readonly table: IcebergTable,
    private readonly o: Required<Pick<IcebergTableOptions, 'rowsPerFile' | 'maxCommitRetries' | 'clock'>> & { types: readonly string[]; retainSnapshots: number | undefined },
  ) {
    this.position = exportedPosition(table.metadata);
    this.scanned = this.position;
    this.types = new Set(o.types);
  }

  static async open(registry: SchemaRegistry, options: IcebergTableOptions): Promise<Batcher> {
    if (registry === null || typeof registry !== 'object' || typeof registry.jsonSchema !== 'function') throw new InvalidArgumentError('exportIceberg needs a SchemaRegistry.');
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('exportIceberg needs { types, table }.');
    const types = options.types;
    if (!Array.isArray(types) || types.length === 0 || !types.every((t) => typeof t === 'string')) throw new InvalidArgumentError('exportIceberg needs at least one event type in types.');
    const rowsPerFile = options.rowsPerFile ?? 1_000_000;
    const maxCommitRetries = options.maxCommitRetries ?? 20;
    const retainSnapshots = options.retainSnapshots;
    for (const [k, v] of [['rowsPerFile', rowsPerFile], ['maxCommitRetries', maxCommitRetries], ['retainSnapshots', retainSnapshots ?? 1]] as const) {
      if (!Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentError(`${k} must be an integer >= 1; got ${String(v)}.`);
    }
    const io = typeof options.table === 'string' ? await openTableIO(options.table) : options.table;
    if (io === null || typeof io !== 'object' || typeof io.create !== 'function') throw new InvalidArgumentError('table must be a directory, a file:// or s3:// URI, or a TableIO.');
    const sorted = [...new Set(types)].sort();
    const clock = options.clock ?? Date.now;
    const columns = Batcher.columnsOf(registry, io.location, sorted);
    const { schema, lastColumnId } = initialSchema(columns);
    const table = await IcebergTable.loadOrCreate(io, { schema, lastColumnId, spec: partitionSpecFor(sorted), properties: { 'strand.types': sorted.join(',') }, now: clock() });
    const held = table.metadata.properties['strand.types'];
    if (held !== sorted.join(',')) throw new IcebergTableMismatchError(io.location, `holds ${held === undefined ? 'no Strand export' : `the types ${held}`}, not ${sorted.join(',')}; export other types to another table`, { held, requested: sorted });
    return new Batcher(registry, table, { types: sorted, rowsPerFile, maxCommitRetries, clock, retainSnapshots });
  }

  private static columnsOf(registry: SchemaRegistry, location: string, types: readonly string[]): PayloadColumn[] {
    return mergeColumns(
      location,
      types.map((type) => {
        const schema = registry.jsonSchema(type);
        if (schema === undefined) throw new InvalidArgumentError(`${type} is not registered; only registered types can be exported (their schema gives the columns).`);
        return { type, columns: payloadColumns(schema) };
      }),
    );
  }

  /** Takes one event of the log in order; false when it was already scanned. */
  scan(e: RecordedEvent): void {
    if (e.position <= this.scanned) return;
    this.scanned = e.position;
    if (!this.types.has(e.type)) return;
    // Written before the type was registered: its data never met the schema the columns come from.
    if (e.schemaVersion === undefined) {
      this.skipped++;
      return;
    }
    this.rows.push(e);
  }

  /**
   * Commits what was scanned since the last commit (nothing when no row matched). When another
   * exporter committed first, the batch is dropped and scanning resumes after its position.
   */
  async commit(upTo = this.scanned): Promise<AppendOutcome | undefined> {
    const rows = this.rows;
    if (rows.length === 0) return undefined;
    this.rows = [];
    const columns = Batcher.columnsOf(this.registry, this.table.io.location, this.o.types);
    const out = await appendBatch(this.table, rows, { columns, after: this.position, upTo, rowsPerFile: this.o.rowsPerFile, maxRetries: this.o.maxCommitRetries, now: this.o.clock, ...(this.o.retainSnapshots === undefined ? {} : { retainSnapshots: this.o.retainSnapshots }) });
    if (out.committed) this.position = out.position;
    else {
      // Superseded: everything up to the other exporter's position is in the table already, and
      // the rest is read again from there (the epoch tells a follower started before to stop).
      this.position = out.position;
      this.scanned = out.position;
      this.rows = [];
      this.epoch++;
    }
    return out;
  }
}

/**
 * Exports events of registered types to an Iceberg v2 table (created when missing), from the
 * position the table holds to `to` (default: the log's head), committing a snapshot every
 * `commitEvery` events. Another exporter committing to the same table meanwhile is detected at
 * commit: the overlapping batch is dropped and the export continues after the other's position.
 */
export async function exportIceberg(registry: SchemaRegistry, options: IcebergExportOptions): Promise<IcebergExportResult> {
  const b = await Batcher.open(registry, options);
  const log = registry.eventLog;
  const commitEvery = options.commitEvery ?? 1_000_000;
  if (!Number.isSafeInteger(commitEvery) || commitEvery < 1) throw new InvalidArgumentError(`commitEvery must be an integer >= 1; got ${String(commitEvery)}.`);
  const to = options.to ?? log.position;
  const from = b.position + 1;
  let snapshots = 0;
  let rows = 0;
  let files = 0;
  const count = (out: AppendOutcome | undefined) => {
    if (out?.committed) {
      snapshots++;
      rows += out.rows;
      files += out.files;
    }
  };
  while (b.scanned < to) {
    let moved = false;
    for await (const e of log.readAll({ from: b.scanned + 1, to })) {
      b.scan(e);
      if (b.rows.length >= commitEvery) {
        const out = await b.commit();
        count(out);
        if (out && !out.committed) {
          moved = true;
          break;
        }
      }
    }
    if (moved) continue;
    const out = await b.commit(to);
    count(out);
    if (out === undefined || out.committed) break;
  }
  return { table: b.table.io.location, from, to, snapshots, rows, files, skipped: b.skipped };
}

/** Options of {@link IcebergSink}. */
export interface IcebergSinkOptions extends IcebergTableOptions {
  /** Commit once this many events of the types are buffered (default 10,000). */
  commitEvery?: number;
  /** Commit what is buffered at least this often, in ms (default 5,000). */
  commitIntervalMs?: number;
  /** Called after each commit. */
  onCommit?: (commit: IcebergCommit) => void;
}

/**
 * A continuous exporter: follows the log from the position the table holds and commits a
 * snapshot every `commitEvery` events or `commitIntervalMs`. Exactly once across crashes and
 * restarts (the position travels in the snapshot summary) and across exporters racing on the
 * same table (the loser of a commit drops its batch and follows on from the winner's position).
 */
export class IcebergSink {
  private batcher: Batcher | undefined;
  private stopping = false;
  private abort: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lock: Promise<unknown> = Promise.resolve();
  private loop: Promise<void> | undefined;
  private failure: unknown;
  private readonly commitEvery: number;
  private readonly intervalMs: number;

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly options: IcebergSinkOptions,
  ) {
    this.commitEvery = options?.commitEvery ?? 10_000;
    this.intervalMs = options?.commitIntervalMs ?? 5_000;
    if (!Number.isSafeInteger(this.commitEvery) || this.commitEvery < 1) throw new InvalidArgumentError(`commitEvery must be an integer >= 1; got ${String(this.commitEvery)}.`);
    if (!Number.isSafeInteger(this.intervalMs) || this.intervalMs < 1) throw new InvalidArgumentError(`commitIntervalMs must be an integer >= 1; got ${String(this.intervalMs)}.`);
  }

  /** The last log position the table holds, as this sink last saw it. */
  get position(): number {
    return this.batcher?.position ?? 0;
  }

  /** Opens (or creates) the table and starts following the log. */
  async start(): Promise<void> {
    if (this.batcher) throw new InvalidArgumentError('This IcebergSink was started already.');
    this.batcher = await Batcher.open(this.registry, this.options);
    this.timer = setInterval(() => {
      if ((this.batcher?.rows.length ?? 0) > 0) void this.commit();
    }, this.intervalMs);
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const b = this.batcher!;
    const log = this.registry.eventLog;
    while (!this.stopping && this.failure === undefined) {
      const abort = new AbortController();
      this.abort = abort;
      try {
        const epoch = b.epoch;
        for await (const e of log.follow('>', { from: b.scanned + 1, signal: abort.signal })) {
          if (b.epoch !== epoch) break;
          b.scan(e);
          if (b.rows.length >= this.commitEvery) await this.commit();
          if (abort.signal.aborted || b.epoch !== epoch) break;
        }
      } catch (error) {
        if (!this.stopping) this.failure ??= error;
      }
    }
  }

  /** Commits what is buffered now (serialised with other commits). */
  private commit(): Promise<unknown> {
    this.lock = this.lock.then(async () => {
      if (this.failure !== undefined) return;
      try {
        const out = await this.batcher!.commit();
        if (out === undefined) return;
        if (out.committed) this.options.onCommit?.({ snapshotId: out.snapshotId, rows: out.rows, files: out.files, position: out.position });
        // Superseded: follow on from the other exporter's position.
        else this.abort?.abort();
      } catch (error) {
        this.failure ??= error;
        this.abort?.abort();
      }
    });
    return this.lock;
  }

  /** Stops following, commits what is buffered, and rethrows the error that stopped the sink, if any. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.abort?.abort();
    await this.loop;
    await this.commit();
    if (this.failure !== undefined) throw this.failure;
  }

  /** The error that stopped the sink, if one did (it stops following and committing). */
  get error(): unknown {
    return this.failure;
  }
}
