/**
 * `strand projections`: projections' positions, lag and parked streams, retry and skip of a parked
 * stream of a projection a server hosts (`--server`), and a blue/green rebuild from the module that
 * defines one.
 *
 * @module
 */
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type CompiledProjection, isInlineProjection, listProjections, ProjectionRunner } from '@strand/projections';
import type { Command } from 'commander';
import type { Cli } from '../context.js';
import { consumersTable, ExitCode, output, progressBar } from '../output.js';
import { remoteProjections, remoteRebuild, remoteResume } from '../remote.js';

/** Registers `strand projections` and its `retry`, `skip` (through `--server`) and `rebuild` subcommands. */
export function registerProjectionCommands(program: Command, cli: Cli): void {
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
      cli.remote((c, out) => remoteProjections(c, out, opts)) ??
      cli.readLog(async (log, out) =>
        consumersTable(out, await listProjections(log), {
          owner: 'projection',
          parkedOnly: opts.parked === true,
          columns: ['name', 'patterns', 'generation', 'position', 'head', 'lag', 'parked'],
          row: (p) => ({ name: p.name, patterns: p.patterns.join(' '), generation: p.generation, position: p.position, head: log.position, lag: log.position - p.position, parked: p.parked.length }),
        }),
      ),
    );

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
        const viaServer = cli.remote((c, out) => remoteResume(c, out, mode, name, stream));
        if (viaServer !== undefined) return viaServer;
        output(cli.globals().json).fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', `strand projections ${mode} needs --server URL (a running projection); in your own process call ProjectionRunner.${mode}(stream).`);
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
      if (cli.globals().server !== undefined && opts.module !== undefined) {
        return output(cli.globals().json).fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', 'strand projections rebuild --server rebuilds the projection the server hosts: give no --module.');
      }
      const viaServer = cli.remote((c, out) => remoteRebuild(c, out, name));
      if (viaServer !== undefined) return viaServer;
      if (opts.module === undefined) return output(cli.globals().json).fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', "strand projections rebuild needs --module FILE (the module that exports the projection), or --server URL for a projection a server hosts.");
      const module = opts.module;
      return cli.withLog(async (log, out) => {
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
}
