/**
 * `strand verify`, `compact`, `snapshots` and `schemas`: checking and maintaining the store, and
 * what other packages keep in it.
 *
 * @module
 */
import { SnapshotStore } from '@strand/aggregate';
import { SchemaRegistry } from '@strand/core';
import { dirSize } from '@strand/core/testing';
import type { Command } from 'commander';
import type { Cli } from '../context.js';
import { ExitCode, progressBar } from '../output.js';

/** Registers the commands that check and maintain the store. */
export function registerStoreCommands(program: Command, cli: Cli): void {
  program
    .command('verify')
    .description('check the whole store: contiguous versions, index consistency, heads, global order')
    .addHelpText('after', '\nExamples:\n  strand verify\n  strand verify --json')
    .action(() =>
      cli.readLog(async (log, out) => {
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
      cli.withLog(async (log, out) => {
        const path = cli.globals().path;
        const before = await dirSize(path);
        await log.compact();
        out.object({ bytesBefore: before, bytesAfter: await dirSize(path) });
      }),
    );

  program
    .command('snapshots [prefix]')
    .description('list aggregate snapshots (written by @strand/aggregate)')
    .action((prefix: string | undefined) =>
      cli.readLog(async (log, out) => {
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
      cli.readLog(async (log, out) => {
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
}
