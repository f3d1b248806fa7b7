#!/usr/bin/env node
/**
 * `strand`: the command-line tool. Short verbs, `--help` with examples on every command, a table
 * for people by default and `--json` for scripts, exit codes scripts can trust (see `exitCodeOf`),
 * colours and progress bars only on a TTY.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SnapshotStore } from '@strand/aggregate';
import type { StrandClient } from '@strand/client';
import { compilePattern, type EventLog, type ExpectedVersion, isStrandError, openLog, SchemaRegistry, StrandError } from '@strand/core';
import { exportParquet } from '@strand/core/export';
import { type TenantInfo, TenantManager, type TenantQuotas } from '@strand/core/tenancy';
import { dirSize } from '@strand/core/testing';
import { compactTable, deleteStreams, expireSnapshots, exportIceberg, IcebergSink, removeOrphanFiles } from '@strand/iceberg';
import { adminGroup, type CompiledProjection, type GroupAddress, type GroupParkedStream, isInlineProjection, listGroups, listProjections, ProjectionRunner, resumeParkedAtRest } from '@strand/projections';
import { openS3Log } from '@strand/store-s3';
import { ClassicLevel } from 'classic-level';
import { Command, Option } from 'commander';
import { exitCodeOf, ExitCode, type Output, output, progressBar } from './output.js';
import { remoteAppend, remoteInfo, remoteProjections, remoteRead, remoteRebuild, remoteResume, remoteStreams, remoteTail, withServer } from './remote.js';
import { type ServeOptions, serve } from './serve.js';
import { tail } from './tail.js';

// A closed pipe (`strand verify | head -1`) ends the command quietly, as Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

interface GlobalOptions {
  path: string;
  json: boolean;
  lockTimeout: string;
  server?: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const isS3 = (path: string) => path.startsWith('s3://');

/**
 * Opens an s3:// log. Commands that only read open a follower (`readOnly=true`): opening a writer
 * would fence the application's writer.
 */
async function openS3(url: string, readOnly: boolean, pollIntervalMs?: number): Promise<EventLog> {
  if (!readOnly) return (await openS3Log(url)).log;
  const u = new URL(url);
  u.searchParams.set('readOnly', 'true');
  return (await openS3Log(u.toString(), { createIfMissing: false, ...(pollIntervalMs === undefined ? {} : { engine: { pollIntervalMs } }) })).log;
}

/** What to do when a running application holds a LevelDB log, for every command's lock error. */
function lockedError(path: string, waitedMs: number, cause: unknown): StrandError {
  return new StrandError(
    'STRAND_LOG_LOCKED',
    'closed',
    `The log at ${path} is held by another process, probably your running application (LevelDB lets one process open a directory; waited ${waitedMs} ms). Stop that process and retry, or wait longer with --lock-timeout <ms>; read it from inside the application (log.readStream, runner.status()...); or keep the log on S3 (--path s3://...), where read-only commands open a follower beside the running writer. (Reading through a running application with --server URL comes with strand serve.)`,
    { cause, details: { path, waitedMs } },
  );
}

/**
 * Opens the log, waiting while another process holds it (LevelDB allows one process per
 * directory; short-lived commands like `strand append` take turns).
 */
async function openWaiting(path: string, lockTimeoutMs: number, readOnly: boolean): Promise<EventLog> {
  if (isS3(path)) return openS3(path, readOnly);
  const deadline = Date.now() + lockTimeoutMs;
  for (;;) {
    try {
      // A command that only reads never creates a store: a directory without a log is an error.
      return await openLog({ path, createIfMissing: !readOnly });
    } catch (error) {
      if (!isStrandError(error, 'STRAND_LOG_LOCKED')) throw error;
      if (Date.now() >= deadline) throw lockedError(path, lockTimeoutMs, error);
      await sleep(50);
    }
  }
}

const program = new Command('strand')
  .description('Strand: per-entity event streams on an LSM tree.')
  .version('0.1.0')
  .addOption(new Option('-p, --path <dir|url>', 'log directory (LevelDB), or s3://bucket/prefix/?endpoint=... (S3)').env('STRAND_PATH').default('./data'))
  .option('--json', 'machine-readable JSON output', false)
  .option('--lock-timeout <ms>', 'wait this long for a log another process holds', '3000')
  .addOption(new Option('--server <url>', 'talk to a running strand serve instead of a local log (API key in STRAND_API_KEY); append, read, tail, streams, info and projections').env('STRAND_SERVER'))
  .addHelpText(
    'after',
    `
Examples:
  strand info                         what is in ./data
  strand streams orders/eu            browse the hierarchy
  strand read orders/eu/order-42      read one stream
  strand tail 'orders/>'              follow new events live
  strand append orders/eu/order-42 --type OrderPlaced --data '{"total":42}' --expect 0

Exit codes: 0 ok, 1 usage or invalid input, 2 conflict (expected version), 3 not found,
4 data problem (verify failed, corruption), 5 unavailable (locked, storage), 70 internal error.`,
  );

function globals(): GlobalOptions {
  return program.opts<GlobalOptions>();
}

/**
 * A whole-number option as the user typed it: `undefined` when absent, else an integer >= `min`
 * (or one of `words`); anything else fails with a message quoting what was typed.
 */
function intOption<W extends string = never>(name: string, raw: string | undefined, min = 0, words: readonly W[] = []): number | W | undefined {
  if (raw === undefined) return undefined;
  if ((words as readonly string[]).includes(raw)) return raw as W;
  if (/^\d+$/.test(raw) && Number.isSafeInteger(Number(raw)) && Number(raw) >= min) return Number(raw);
  const allowed = [`an integer >= ${min}`, ...words.map((w) => `'${w}'`)].join(' or ');
  return output(globals().json).fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', `${name} must be ${allowed}; got ${JSON.stringify(raw)}.`);
}

/** {@link intOption} without words. */
const intArg = (name: string, raw: string | undefined, min = 0): number | undefined => intOption(name, raw, min) as number | undefined;


/** With `--server URL`: runs `fn` against the server through the client, else returns undefined. */
function remote(fn: (client: StrandClient, out: Output, server: string) => Promise<void>): Promise<void> | undefined {
  const { server, json } = globals();
  if (server === undefined) return undefined;
  const out = output(json);
  return withServer(server, out, (client) => fn(client, out, server));
}

/** {@link withLog} for commands that only read. */
function readLog<T>(fn: (log: EventLog, out: Output) => Promise<T>): Promise<T> {
  return withLog(fn, { readOnly: true });
}

/** `readOnly`: the command only reads (on S3 it then opens a follower, which never fences the writer). */
async function withLog<T>(fn: (log: EventLog, out: Output) => Promise<T>, options: { create?: boolean; readOnly?: boolean } = {}): Promise<T> {
  const { path, json } = globals();
  const out = output(json);
  if (!options.create && !isS3(path) && !existsSync(path)) {
    out.fail(ExitCode.notFound, 'STRAND_NOT_FOUND', `No log at ${path}. Create one with: strand init --path ${path}`);
  }
  const log = await openWaiting(path, intArg('--lock-timeout', globals().lockTimeout) ?? 3000, options.readOnly ?? false);
  try {
    return await fn(log, out);
  } finally {
    await log.close();
  }
}

program
  .command('init')
  .description('create a log (or open an existing one) and show it')
  .addHelpText('after', '\nExamples:\n  strand init --path ./data')
  .action(() =>
    withLog(
      async (log, out) => {
        out.object({ path: globals().path, position: log.position, codec: log.codec.name, created: true });
      },
      { create: true },
    ),
  );

program
  .command('info')
  .description('size on disk, stream count, head position, backend and settings')
  .addHelpText('after', '\nExamples:\n  strand info\n  strand info --json | jq .streams')
  .action(() =>
    remote((c, out, server) => remoteInfo(c, out, server)) ??
    readLog(async (log, out) => {
      const path = globals().path;
      out.object({
        path,
        backend: isS3(path) ? 's3 (S3Level)' : 'leveldb (classic-level)',
        bytesOnDisk: isS3(path) ? 'n/a' : await dirSize(path),
        streams: await log.countStreams(),
        position: log.position,
        codec: log.codec.name,
        durability: 'sync',
      });
    }),
  );

program
  .command('streams [prefix]')
  .description('list the children of a hierarchy prefix, with stream counts below each')
  .option('--after <segment>', 'continue after this segment (paging)')
  .option('--limit <n>', 'entries per page', '50')
  .addHelpText('after', '\nExamples:\n  strand streams\n  strand streams orders/eu --limit 20')
  .action((prefix: string | undefined, opts: { after?: string; limit: string }) =>
    remote((c, out) => remoteStreams(c, out, prefix, opts)) ??
    readLog(async (log, out) => {
      const page = await log.listChildren(prefix ?? '', { after: opts.after, limit: intArg('--limit', opts.limit, 1) });
      const rows = [];
      for (const e of page.entries) {
        const info = e.isStream ? await log.streamInfo(e.name) : undefined;
        rows.push({ name: e.name, stream: e.isStream, version: info?.version ?? '', below: e.hasChildren ? await log.countStreams(e.name) - (e.isStream ? 1 : 0) : 0 });
      }
      out.table(rows, ['name', 'stream', 'version', 'below'], page.next === undefined ? undefined : `more: strand streams ${prefix ?? ''} --after ${page.next}`);
    }),
  );

program
  .command('read <stream>')
  .description("read a stream's events")
  .option('--from <version>', 'first version (last, with --backwards)')
  .option('--backwards', 'newest first', false)
  .option('--limit <n>', 'at most this many events')
  .addHelpText('after', '\nExamples:\n  strand read orders/eu/order-42\n  strand read orders/eu/order-42 --backwards --limit 1 --json')
  .action((stream: string, opts: { from?: string; backwards: boolean; limit?: string }) =>
    remote((c, out) => remoteRead(c, out, stream, opts)) ??
    readLog(async (log, out) => {
      const info = await log.streamInfo(stream);
      if (info === undefined) out.fail(ExitCode.notFound, 'STRAND_NOT_FOUND', `No stream "${stream}". List streams with: strand streams`);
      const events = [];
      for await (const e of log.readStream(stream, {
        from: intArg('--from', opts.from, 1),
        limit: intArg('--limit', opts.limit),
        direction: opts.backwards ? 'backwards' : 'forwards',
        ifTruncated: 'skip',
      })) {
        events.push(e);
      }
      out.events(events);
    }),
  );

program
  .command('tail <pattern>')
  .description('follow events of matching streams, like tail -f (Ctrl-C to stop)')
  .option('--from <position>', "first global position, 'start' (everything) or 'end' (only new events, the default)")
  .option('--count <n>', 'stop after this many events')
  .option('--interval <ms>', 'poll interval', '250')
  .addHelpText(
    'after',
    `
LevelDB lets one process open a log at a time, so tail polls: it opens the log, prints new events,
closes it and waits, leaving the log to other short-lived writers (strand append...) in between.
A long-running writer holds the log: follow it in that process (log.follow) or use the S3 backend,
where tail opens one read-only follower and follows it (the follower polls every --interval ms).

Examples:
  strand tail 'orders/>'
  strand tail 'orders/*/order-42' --from start --count 10 --json`,
  )
  .action(async (pattern: string, opts: { from?: string; count?: string; interval: string }) => {
    const viaServer = remote((c, out) => remoteTail(c, out, pattern, opts));
    if (viaServer !== undefined) return viaServer;
    const { path, json } = globals();
    const out = output(json);
    compilePattern(pattern);
    const from = intOption('--from', opts.from, 1, ['start', 'end'] as const) ?? 'end';
    const count = intArg('--count', opts.count, 1);
    const intervalMs = intArg('--interval', opts.interval, 1) ?? 250;
    if (!isS3(path) && !existsSync(path)) out.fail(ExitCode.notFound, 'STRAND_NOT_FOUND', `No log at ${path}. Create one with: strand init --path ${path}`);
    let stop = false;
    const abort = new AbortController();
    process.once('SIGINT', () => {
      stop = true;
      abort.abort();
    });
    await tail({
      // On S3 the follower polls the bucket every --interval ms and the log follows its refreshes.
      open: () => (isS3(path) ? openS3(path, true, intervalMs) : openLog({ path, createIfMissing: false })),
      reopen: !isS3(path),
      signal: abort.signal,
      pattern,
      from: from === 'start' ? 1 : from,
      count,
      intervalMs,
      onEvent: (e) => out.event(e),
      stopped: () => stop,
      onLocked: () => process.stderr.write('strand tail: the log is held by another process; waiting for it to let go...\n'),
      sleep,
    });
  });

program
  .command('append <stream>')
  .description('append one event')
  .requiredOption('--type <type>', 'event type')
  .requiredOption('--data <json>', 'event data as JSON')
  .option('--expect <version>', "expected version: a number, 'any', 'no_stream' or 'stream_exists'", 'any')
  .option('--id <id>', 'event id (makes a retry idempotent)')
  .addHelpText('after', `\nExamples:\n  strand append orders/eu/order-42 --type OrderPlaced --data '{"total":42}' --expect no_stream`)
  .action((stream: string, opts: { type: string; data: string; expect: string; id?: string }) =>
    remote((c, out) => remoteAppend(c, out, stream, opts)) ??
    withLog(
      async (log, out) => {
        let data: unknown;
        try {
          data = JSON.parse(opts.data);
        } catch {
          out.fail(ExitCode.usage, 'STRAND_INVALID_EVENT', `--data is not valid JSON: ${opts.data}`);
        }
        const expectedVersion: ExpectedVersion = /^\d+$/.test(opts.expect) ? Number(opts.expect) : (opts.expect as ExpectedVersion);
        const r = await log.append(stream, [{ type: opts.type, data, ...(opts.id ? { id: opts.id } : {}) }], { expectedVersion });
        out.object({ stream: r.stream, version: r.version, position: r.position, id: r.events[0]?.id, idempotent: r.idempotent });
      },
      { create: true },
    ),
  );

program
  .command('verify')
  .description('check the whole store: contiguous versions, index consistency, heads, global order')
  .addHelpText('after', '\nExamples:\n  strand verify\n  strand verify --json')
  .action(() =>
    readLog(async (log, out) => {
      const bar = progressBar(out, 'verify', log.position);
      const report = await log.verify((n) => bar.update(Math.min(n, log.position)));
      bar.stop();
      out.object({ ok: report.problems.length === 0, ...report });
      if (report.problems.length > 0) process.exitCode = ExitCode.data;
    }),
  );

program
  .command('compact')
  .description('compact the store (LevelDB rewrites its files, dropping deleted and truncated data)')
  .action(() =>
    withLog(async (log, out) => {
      const path = globals().path;
      const before = await dirSize(path);
      await log.compact();
      out.object({ bytesBefore: before, bytesAfter: await dirSize(path) });
    }),
  );

program
  .command('snapshots [prefix]')
  .description('list aggregate snapshots (written by @strand/aggregate)')
  .action((prefix: string | undefined) =>
    readLog(async (log, out) => {
      const rows = [];
      for await (const rec of new SnapshotStore(log).list(prefix)) {
        rows.push({ stream: rec.stream, aggregate: rec.aggregate, version: rec.version, stateVersion: rec.stateVersion, takenAt: new Date(rec.takenAt).toISOString() });
      }
      out.table(rows, ['stream', 'aggregate', 'version', 'stateVersion', 'takenAt']);
    }),
  );

program
  .command('schemas')
  .description('list registered event types, their versions and compatibility modes')
  .option('--type <type>', 'show the JSON Schema of each version of one type')
  .addHelpText('after', '\nExamples:\n  strand schemas\n  strand schemas --type OrderPlaced --json')
  .action((opts: { type?: string }) =>
    readLog(async (log, out) => {
      const registry = await SchemaRegistry.open(log);
      const types = registry.list().filter((t) => opts.type === undefined || t.type === opts.type);
      if (opts.type !== undefined && types.length === 0) out.fail(ExitCode.notFound, 'STRAND_NOT_FOUND', `No event type ${opts.type}. List them with: strand schemas`);
      if (opts.type !== undefined) return out.table(types[0]!.versions.map((v) => ({ version: v.version, registered: new Date(v.registeredAt).toISOString(), schema: JSON.stringify(v.jsonSchema) })), ['version', 'registered', 'schema']);
      out.table(
        types.map((t) => ({ type: t.type, latest: t.versions.at(-1)?.version, compatibility: t.compatibility })),
        ['type', 'latest', 'compatibility'],
      );
    }),
  );

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
async function exportIcebergCommand(opts: ExportOpts): Promise<void> {
  const out = output(globals().json);
  const table: string = opts.table ?? out.fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', '--format iceberg needs --table DIR or --table s3://bucket/prefix/.');
  if (opts.types === undefined && !opts.expire && !opts.compact && opts.deleteStreams === undefined) out.fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', 'Give --types to export, and/or --delete-streams, --compact or --expire for table maintenance.');
  const types = opts.types?.split(',').map((t) => t.trim());
  const num = (name: string, v: string | undefined) => wholeNumber(out, name, v);
  if (types !== undefined) {
    await readLog(async (log) => {
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
      if (!globals().json) process.stderr.write(`strand export: following the log into ${table} from position ${sink.position + 1}; Ctrl-C stops after a last commit\n`);
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
    if (opts.format === 'iceberg') return exportIcebergCommand(opts);
    if (opts.format !== 'parquet') output(globals().json).fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', `--format is parquet or iceberg; got ${opts.format}.`);
    if (opts.types === undefined || opts.dir === undefined) output(globals().json).fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', 'A Parquet export needs --types and --dir.');
    const { types, dir } = opts as ExportOpts & { types: string; dir: string };
    return withLog(async (log, out) => {
      const registry = await SchemaRegistry.open(log);
      const r = await exportParquet(registry, {
        types: types.split(',').map((t) => t.trim()),
        dir,
        name: opts.name,
        from: intArg('--from', opts.from, 1),
        to: intArg('--to', opts.to, 0),
      });
      out.table(
        r.files.map((f) => ({ type: f.type, rows: f.rows, positions: `${f.fromPosition}-${f.toPosition}`, file: f.path })),
        ['type', 'rows', 'positions', 'file'],
        `scanned positions ${r.from}-${r.to}${r.skipped > 0 ? `, skipped ${r.skipped} events written before their type was registered` : ''}`,
      );
    });
  });

const projections = program
  .command('projections')
  .description('list projections with their position, lag and parked streams; rebuild one')
  .option('--parked', 'list every parked stream with its error')
  .addHelpText('after', `
Projections run in your application (their handlers are code), so the CLI reports on them and
rebuilds one from the module that defines it; retry and skip are methods of ProjectionRunner.

Examples:
  strand projections
  strand projections --parked --json
  strand projections rebuild balances --module ./dist/read-models.js`)
  .action((opts: { parked?: boolean }) =>
    remote((c, out) => remoteProjections(c, out, opts)) ??
    readLog(async (log, out) => {
      const rows: Array<Record<string, unknown>> = [];
      const parkedRows: Array<Record<string, unknown>> = [];
      for (const p of await listProjections(log)) {
        for (const x of p.parked) parkedRows.push({ projection: p.name, stream: x.stream, version: x.version, attempts: x.attempts, error: x.error });
        rows.push({ name: p.name, patterns: p.patterns.join(' '), generation: p.generation, position: p.position, head: log.position, lag: log.position - p.position, parked: p.parked.length });
      }
      if (opts.parked) out.table(parkedRows, ['projection', 'stream', 'version', 'attempts', 'error']);
      else out.table(rows, ['name', 'patterns', 'generation', 'position', 'head', 'lag', 'parked']);
    }),
  );

/** `host:port` or a Unix socket path, as `strand group --connect` takes it. */
function groupAddress(connect: string): GroupAddress {
  const m = /^(.*):(\d+)$/.exec(connect);
  return m ? { host: m[1] || '127.0.0.1', port: Number(m[2]) } : { path: connect };
}

const groups = program
  .command('groups')
  .description('list consumer groups with their watermark, active streams and parked streams')
  .option('--parked', 'list every parked stream with its error')
  .addHelpText('after', `
Reads the groups' durable checkpoints. A running coordinator (serveGroup) answers live:
see "strand groups parked --help".

Examples:
  strand groups
  strand groups --parked --json`)
  .action((opts: { parked?: boolean }) =>
    readLog(async (log, out) => {
      const rows: Array<Record<string, unknown>> = [];
      const parkedRows: Array<Record<string, unknown>> = [];
      for (const g of await listGroups(log)) {
        for (const p of g.parked) parkedRows.push({ group: g.name, stream: p.stream, version: p.version, attempts: p.attempts, error: p.error });
        rows.push({ name: g.name, pattern: g.pattern, watermark: g.watermark, head: log.position, active: g.streams, parked: g.parked.length });
      }
      if (opts.parked) out.table(parkedRows, ['group', 'stream', 'version', 'attempts', 'error']);
      else out.table(rows, ['name', 'pattern', 'watermark', 'head', 'active', 'parked']);
    }),
  );

groups
  .command('parked <group>')
  .description("list a group's parked streams")
  .option('--connect <address>', "ask the group's running coordinator (host:port or a socket path)")
  .addHelpText('after', `
Examples:
  strand groups parked billing
  strand groups parked billing --connect 127.0.0.1:7070 --json`)
  .action(async (group: string, opts: { connect?: string }) => {
    const out = output(globals().json);
    const rows = (p: GroupParkedStream[]) => out.table(p.map((x) => ({ stream: x.stream, version: x.version, position: x.position, attempts: x.attempts, error: x.error })), ['stream', 'version', 'position', 'attempts', 'error']);
    if (opts.connect !== undefined) return rows((await adminGroup(groupAddress(opts.connect), group, 'parked')) as GroupParkedStream[]);
    return readLog(async (log) => {
      const g = (await listGroups(log)).find((x) => x.name === group);
      if (g === undefined) return out.fail(ExitCode.notFound, 'STRAND_NOT_FOUND', `No consumer group named ${group} in this log. List them with: strand groups`);
      rows(g.parked);
    });
  });

for (const mode of ['retry', 'skip'] as const) {
  groups
    .command(`${mode} <group> <stream>`)
    .description(mode === 'retry' ? 'deliver a parked stream again from its failed event' : 'skip the failed event of a parked stream and deliver the rest')
    .option('--connect <address>', "ask the group's running coordinator (host:port or a socket path)")
    .addHelpText('after', `
Without --connect, edits the checkpoint at rest: stop the group's coordinator first (LevelDB
allows one process per store; on S3 this would fence the application's writer, so use --connect).

Examples:
  strand groups ${mode} billing orders/eu/o-42 --connect 127.0.0.1:7070
  strand groups ${mode} billing orders/eu/o-42`)
    .action(async (group: string, stream: string, opts: { connect?: string }) => {
      const out = output(globals().json);
      const done = (ok: boolean) => {
        if (!ok) return out.fail(ExitCode.notFound, 'STRAND_NOT_FOUND', `Stream ${stream} is not parked in group ${group}. List parked streams with: strand groups parked ${group}`);
        out.object({ group, stream, [mode === 'retry' ? 'retried' : 'skipped']: true });
      };
      if (opts.connect !== undefined) return done((await adminGroup(groupAddress(opts.connect), group, mode, stream)) as boolean);
      return withLog(async (log) => done(await resumeParkedAtRest(log, group, stream, mode)));
    });
}

for (const mode of ['retry', 'skip'] as const) {
  projections
    .command(`${mode} <name> <stream>`)
    .description(mode === 'retry' ? 'deliver a parked stream again from its failed event (needs --server)' : 'skip the failed event of a parked stream (needs --server)')
    .addHelpText('after', `
Retry and skip act on a running projection: the one a strand server hosts (--server). In your own
process, call ProjectionRunner.${mode}(stream).

Examples:
  STRAND_API_KEY=... strand --server http://127.0.0.1:7070 projections ${mode} balances accounts/eu/a-1`)
    .action((name: string, stream: string) => {
      const viaServer = remote((c, out) => remoteResume(c, out, mode, name, stream));
      if (viaServer !== undefined) return viaServer;
      output(globals().json).fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', `strand projections ${mode} needs --server URL (a running projection); in your own process call ProjectionRunner.${mode}(stream).`);
    });
}

projections
  .command('rebuild <name>')
  .description('rebuild a projection from the start, blue/green, with a progress bar and ETA')
  .option('--module <file>', 'JavaScript module that exports the projection (a defineProjection result); not with --server')
  .addHelpText('after', `
The old generation keeps serving until the new one has caught up, then they swap. Stop the
application's runner of this projection first: LevelDB allows one process per store. With
--server, the server rebuilds the projection it hosts (strand serve --projections) and the
command shows its progress; the rebuild goes on in the server if the command is stopped.

Examples:
  strand projections rebuild balances --module ./dist/read-models.js
  strand projections rebuild balances --module ./dist/read-models.js --json
  STRAND_API_KEY=... strand --server http://127.0.0.1:7070 projections rebuild balances`)
  .action((name: string, opts: { module?: string }) => {
    if (globals().server !== undefined && opts.module !== undefined) {
      return output(globals().json).fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', 'strand projections rebuild --server rebuilds the projection the server hosts: give no --module.');
    }
    const viaServer = remote((c, out) => remoteRebuild(c, out, name));
    if (viaServer !== undefined) return viaServer;
    if (opts.module === undefined) return output(globals().json).fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', "strand projections rebuild needs --module FILE (the module that exports the projection), or --server URL for a projection a server hosts.");
    const module = opts.module;
    return withLog(async (log, out) => {
      let mod: Record<string, unknown>;
      try {
        mod = (await import(pathToFileURL(resolvePath(module)).href)) as Record<string, unknown>;
      } catch (cause) {
        return out.fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', `Cannot load --module ${module}: ${(cause as Error).message}. Give the built JavaScript file that exports the projection.`);
      }
      const projection = Object.values(mod).find((v): v is CompiledProjection => v !== null && typeof v === 'object' && (v as { name?: unknown }).name === name && 'handlers' in v);
      if (projection === undefined) return out.fail(ExitCode.notFound, 'STRAND_NOT_FOUND', `${module} exports no projection named "${name}". Export the result of defineProjection({ name: '${name}', ... }).`);
      if (await isInlineProjection(log, name)) {
        return out.fail(
          ExitCode.usage,
          'STRAND_INVALID_ARGUMENT',
          `${name} runs inline (attachInline): its read model is written in each append's own batch, so there is no asynchronous generation to rebuild, and a rebuild here would start a second, asynchronous copy beside it. Run it with a ProjectionRunner if it should be rebuilt from the CLI; an inline read model is rebuilt in the application, by replaying the log through its handlers.`,
        );
      }
      const runner = new ProjectionRunner(log, projection);
      await runner.start();
      const bar = progressBar(out, `rebuild ${name}`, log.position);
      try {
        await runner.rebuild((p) => bar.update(p.position));
      } finally {
        bar.stop();
      }
      const s = await runner.status();
      await runner.stop();
      out.table([{ name, generation: s.generation, position: s.position, head: log.position }], ['name', 'generation', 'position', 'head'], `rebuilt ${name} into generation ${s.generation}`);
    });
  });

const tenants = program
  .command('tenants')
  .description('manage tenants of a multi-tenant store: list, create, suspend, resume, delete, usage, metrics')
  .addHelpText('after', `
Examples:
  strand tenants                      list tenants
  strand tenants create acme --max-streams 100000
  strand tenants usage acme --json
  strand tenants metrics              Prometheus text for every tenant`);

async function withTenants<T>(fn: (m: TenantManager, out: Output) => Promise<T>): Promise<T> {
  const { path, json } = globals();
  const out = output(json);
  if (isS3(path)) out.fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', 'strand tenants works on a LevelDB path; open S3 tenants from code with TenantManager.open({ store: new S3Level(...) }).');
  const store = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
  const manager = await TenantManager.open({ store, ownsStore: true });
  try {
    return await fn(manager, out);
  } finally {
    await manager.close();
  }
}

const tenantRow = (t: TenantInfo) => ({ name: t.name, status: t.status, created: new Date(t.created).toISOString(), quotas: JSON.stringify(t.quotas) });

tenants.command('list', { isDefault: true }).description('list tenants').action(() => withTenants(async (m, out) => out.table(m.list().map(tenantRow), ['name', 'status', 'created', 'quotas'])));

tenants
  .command('create <name>')
  .description('create a tenant (one metadata write)')
  .option('--max-streams <n>', 'stream quota')
  .option('--max-storage-bytes <n>', 'storage quota')
  .option('--events-per-sec <n>', 'append rate quota')
  .action((name: string, opts: { maxStreams?: string; maxStorageBytes?: string; eventsPerSec?: string }) =>
    withTenants(async (m, out) => {
      const quotas: TenantQuotas = {};
      if (opts.maxStreams) quotas.streams = Number(opts.maxStreams);
      if (opts.maxStorageBytes) quotas.storageBytes = Number(opts.maxStorageBytes);
      if (opts.eventsPerSec) quotas.appendEventsPerSecond = Number(opts.eventsPerSec);
      out.object(tenantRow(await m.createTenant(name, { quotas })));
    }),
  );

for (const [verb, describe] of [
  ['suspend', 'refuse every data operation of a tenant until resumed'],
  ['resume', 'resume a suspended tenant'],
  ['delete', 'delete a tenant and all of its data (reclaimed by compaction)'],
] as const) {
  tenants
    .command(`${verb} <name>`)
    .description(describe)
    .action((name: string) =>
      withTenants(async (m, out) => {
        if (verb === 'suspend') await m.suspend(name);
        else if (verb === 'resume') await m.resume(name);
        else await m.deleteTenant(name);
        out.object({ name, done: verb });
      }),
    );
}

tenants
  .command('usage <name>')
  .description("a tenant's metered usage: events and bytes appended and read, streams, storage")
  .action((name: string) => withTenants(async (m, out) => out.object({ name, ...(await m.usage(name)) })));

tenants
  .command('metrics')
  .description('every tenant\'s counters in Prometheus text format')
  .action(() =>
    withTenants(async (m) => {
      process.stdout.write(await m.metrics());
    }),
  );

program
  .command('serve')
  .description('serve the log over the network (gRPC, gRPC-Web, Connect JSON, SSE tail) until SIGTERM')
  .option('--port <n>', 'TCP port', '7070')
  .option('--host <addr>', 'interface to listen on', '127.0.0.1')
  .option('--api-key <key>', 'the API key clients send (env STRAND_API_KEY); generated and printed when absent')
  .option('--admin-key <key>', 'the admin credential for /metrics (env STRAND_ADMIN_KEY); generated when absent')
  .option('--tenants', 'serve the tenant registry at --path: keys are its principals\' keys', false)
  .option('--demo', 'seed an empty log with a small shop domain and keep appending orders (to try the console)', false)
  .option('--tls-cert <file>', 'PEM certificate: serve TLS (HTTP/2 and HTTP/1.1)')
  .option('--tls-key <file>', 'PEM private key for --tls-cert')
  .option('--projections <module>', 'host the projections this JavaScript module exports: clients see status and parked streams, retry, skip, rebuild and waitFor them')
  .option('--max-request-bytes <n>', 'largest request body (default 4 MiB)')
  .option('--max-events-per-append <n>', 'most events in one append (default 10000)')
  .option('--max-streams-per-connection <n>', 'most subscriptions on one connection (default 1000)')
  .option('--max-connections-per-tenant <n>', 'most connections a tenant uses at once (default 1000)')
  .option('--request-timeout <ms>', 'deadline of a call (default 30000)')
  .option('--heartbeat <ms>', 'subscription heartbeat interval (default 15000)')
  .option('--stall-timeout <ms>', 'end a subscriber that holds events back this long (default 30000)')
  .option('--group-session-timeout <ms>', 'consumer groups the server hosts: expire a member after this long without a heartbeat (default 10000)')
  .option('--group-max-attempts <n>', 'consumer groups the server hosts: deliveries of an event before its stream parks (default 5)')
  .option('--group-backoff <ms>', 'consumer groups the server hosts: first retry delay after a nack (default 100)')
  .addHelpText(
    'after',
    `
Examples:
  strand serve --path ./data                     prints the URL and a generated API key
  STRAND_API_KEY=... strand serve --port 7070    a key of your choosing
  strand serve --tenants --path ./tenants        multi-tenant: principals' keys and grants
  strand serve --demo --path ./demo              a seeded demo log; open the console at <url>/ui/
  strand serve --tls-cert cert.pem --tls-key key.pem

Then: curl -s localhost:7070/strand.v1.EventStoreService/Append -H 'content-type: application/json' \\
        -H "authorization: Bearer $KEY" -d '{"stream":"orders/o-1","events":[{"type":"Placed","data":"{}"}]}'`,
  )
  .action(async (opts: ServeOptions) => {
    const { path, json } = globals();
    await serve(path, () => openWaiting(path, Number(globals().lockTimeout), false), opts, json);
  });

program
  .command('bench')
  .description('run the benchmark (npm run bench) and print its table')
  .allowUnknownOption(true)
  .argument('[args...]', 'passed to the benchmark, e.g. --only core --scale 0.1 --json out.json')
  .action(async (args: string[]) => {
    const script = fileURLToPath(new URL('../../../test/dist/bench/main.js', import.meta.url));
    if (!existsSync(script)) output(globals().json).fail(ExitCode.notFound, 'STRAND_NOT_FOUND', `The benchmark is not built (${script}). Run npm run build first.`);
    const child = spawn(process.execPath, ['--expose-gc', script, ...args], { stdio: 'inherit' });
    process.exitCode = await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  });

program.exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (error) {
  const code = (error as { code?: string }).code;
  if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') process.exit(0);
  if (typeof code === 'string' && code.startsWith('commander.')) process.exit(ExitCode.usage);
  const out = output(globals().json);
  if (isStrandError(error)) out.fail(exitCodeOf(error), error.code, error.message);
  out.fail(ExitCode.internal, 'STRAND_INTERNAL', String((error as Error)?.stack ?? error));
}
