/**
 * `strand export`: events of registered types to Parquet files, or to an Apache Iceberg table
 * (export, follow, compact, expire, delete streams; docs/design/0009-iceberg.md).
 *
 * @module
 */
import { SchemaRegistry } from '@strand/core';
import { exportParquet } from '@strand/core/export';
import { compactTable, deleteStreams, expireSnapshots, exportIceberg, IcebergSink, removeOrphanFiles } from '@strand/iceberg';
import type { Command } from 'commander';
import type { Cli } from '../context.js';
import { ExitCode, type Output, output } from '../output.js';

interface ExportOpts {
  format: string;
  types?: string;
  dir?: string;
  table?: string;
  name?: string;
  from?: string;
  to?: string;
  follow?: boolean;
  commitEvery?: string;
  commitInterval: string;
  expire?: boolean;
  olderThan: string;
  retainLast: string;
  compact?: boolean;
  targetRows: string;
  deleteStreams?: string;
}

/** A whole number option, or exit 1 naming it. */
function wholeNumber(out: Output, name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) out.fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', `${name} must be a whole number; got ${value}.`);
  return Number(value);
}

/** `strand export --format iceberg`: export, follow, expire, compact (docs/design/0009-iceberg.md). */
async function exportIcebergCommand(cli: Cli, opts: ExportOpts): Promise<void> {
  const out = output(cli.globals().json);
  const table: string = opts.table ?? out.fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', '--format iceberg needs --table DIR or --table s3://bucket/prefix/.');
  if (opts.types === undefined && !opts.expire && !opts.compact && opts.deleteStreams === undefined) out.fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', 'Give --types to export, and/or --delete-streams, --compact or --expire for table maintenance.');
  const types = opts.types?.split(',').map((t) => t.trim());
  const num = (name: string, v: string | undefined) => wholeNumber(out, name, v);
  if (types !== undefined) {
    await cli.readLog(async (log) => {
      const registry = await SchemaRegistry.open(log);
      if (!opts.follow) {
        const r = await exportIceberg(registry, { types, table, to: num('--to', opts.to), commitEvery: num('--commit-every', opts.commitEvery) });
        out.object({ table: r.table, from: r.from, to: r.to, snapshots: r.snapshots, rows: r.rows, files: r.files, skipped: r.skipped });
        return;
      }
      const sink = new IcebergSink(registry, {
        types,
        table,
        commitEvery: num('--commit-every', opts.commitEvery),
        commitIntervalMs: num('--commit-interval', opts.commitInterval),
        onCommit: (c) => out.object({ snapshot: c.snapshotId, rows: c.rows, files: c.files, position: c.position }),
      });
      await sink.start();
      if (!cli.globals().json) process.stderr.write(`strand export: following the log into ${table} from position ${sink.position + 1}; Ctrl-C stops after a last commit\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await sink.stop();
    });
  }
  if (opts.deleteStreams !== undefined) {
    const d = await deleteStreams(table, opts.deleteStreams.split(',').map((t) => t.trim()));
    out.object({ deletedRows: d.deletedRows, rewrittenFiles: d.rewrittenFiles });
  }
  if (opts.compact) {
    const c = await compactTable(table, { targetRows: num('--target-rows', opts.targetRows) });
    out.object({ compacted: c.rewrittenFiles, written: c.addedFiles, manifestsBefore: c.manifestsBefore, manifestsAfter: c.manifestsAfter });
  }
  if (opts.expire) {
    const olderThanMs = num('--older-than', opts.olderThan);
    const e = await expireSnapshots(table, { olderThanMs, retainLast: num('--retain-last', opts.retainLast) });
    const o = await removeOrphanFiles(table, { olderThanMs });
    out.object({ expired: e.expired, kept: e.kept, deletedFiles: e.deletedFiles + o.deleted.length });
  }
}

/** Registers `strand export`. */
export function registerExportCommands(program: Command, cli: Cli): void {
  program
    .command('export')
    .description('export events of registered types to Parquet files (incremental with --name) or to an Apache Iceberg table')
    .option('--format <format>', 'parquet (loose files) or iceberg (a table: snapshots, schema history, partitions)', 'parquet')
    .option('--types <list>', 'comma-separated event types')
    .option('--dir <dir>', 'output directory (parquet)')
    .option('--table <dir|url>', 'Iceberg table location: a directory or s3://bucket/prefix/?endpoint=... (iceberg)')
    .option('--name <name>', 'incremental Parquet export: continue from where the last run with this name stopped')
    .option('--from <position>', 'first global position (parquet; an Iceberg table continues from its own position)')
    .option('--to <position>', 'last global position')
    .option('--follow', 'iceberg: keep following the log, committing every --commit-every events or --commit-interval ms')
    .option('--commit-every <n>', 'iceberg: events per snapshot at most')
    .option('--commit-interval <ms>', 'iceberg --follow: commit what is buffered at least this often', '5000')
    .option('--expire', 'iceberg: expire snapshots older than --older-than (keeping --retain-last) and remove orphan files')
    .option('--older-than <ms>', 'iceberg --expire: age of snapshots and unreferenced files to remove', String(5 * 86_400_000))
    .option('--retain-last <n>', 'iceberg --expire: snapshots always kept', '1')
    .option('--delete-streams <list>', 'iceberg: erase the rows of these streams (rewrites their files; --expire then removes the old ones)')
    .option('--compact', 'iceberg: rewrite small data files and all manifests into few')
    .option('--target-rows <n>', 'iceberg --compact: rows per compacted file', '1000000')
    .addHelpText(
      'after',
      `
Examples:
  strand export --types OrderPlaced,Shipped --dir ./parquet --name bi
  strand export --format iceberg --types OrderPlaced --table ./warehouse/orders
  strand export --format iceberg --types OrderPlaced --table 's3://lake/orders/?region=eu-west-1' --follow
  strand export --format iceberg --table ./warehouse/orders --compact --expire --older-than 86400000
  strand export --format iceberg --table ./warehouse/people --delete-streams people/p-7 --expire --older-than 0`,
    )
    .action(async (opts: ExportOpts) => {
      if (opts.format === 'iceberg') return exportIcebergCommand(cli, opts);
      if (opts.format !== 'parquet') output(cli.globals().json).fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', `--format is parquet or iceberg; got ${opts.format}.`);
      if (opts.types === undefined || opts.dir === undefined) output(cli.globals().json).fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', 'A Parquet export needs --types and --dir.');
      const { types, dir } = opts as ExportOpts & { types: string; dir: string };
      return cli.withLog(async (log, out) => {
        const registry = await SchemaRegistry.open(log);
        const r = await exportParquet(registry, {
          types: types.split(',').map((t) => t.trim()),
          dir,
          name: opts.name,
          from: cli.intArg('--from', opts.from, 1),
          to: cli.intArg('--to', opts.to, 0),
        });
        out.table(
          r.files.map((f) => ({ type: f.type, rows: f.rows, positions: `${f.fromPosition}-${f.toPosition}`, file: f.path })),
          ['type', 'rows', 'positions', 'file'],
          `scanned positions ${r.from}-${r.to}${r.skipped > 0 ? `, skipped ${r.skipped} events written before their type was registered` : ''}`,
        );
      });
    });
}
