/**
 * `strand groups`: consumer groups' checkpoints and parked streams, and retry or skip of a parked
 * stream, at rest or through a running coordinator (`--connect`).
 *
 * @module
 */
import { adminGroup, type GroupAddress, type GroupParkedStream, listGroups, resumeParkedAtRest } from '@strand/projections';
import type { Command } from 'commander';
import type { Cli } from '../context.js';
import { consumersTable, ExitCode, output } from '../output.js';

/** `host:port` or a Unix socket path, as `strand group --connect` takes it. */
function groupAddress(connect: string): GroupAddress {
  const m = /^(.*):(\d+)$/.exec(connect);
  return m ? { host: m[1] || '127.0.0.1', port: Number(m[2]) } : { path: connect };
}

/** Registers `strand groups` and its subcommands. */
export function registerGroupCommands(program: Command, cli: Cli): void {
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
      cli.readLog(async (log, out) =>
        consumersTable(out, await listGroups(log), {
          owner: 'group',
          parkedOnly: opts.parked === true,
          columns: ['name', 'pattern', 'watermark', 'head', 'active', 'parked'],
          row: (g) => ({ name: g.name, pattern: g.pattern, watermark: g.watermark, head: log.position, active: g.streams, parked: g.parked.length }),
        }),
      ),
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
      const out = output(cli.globals().json);
      const rows = (p: GroupParkedStream[]) => out.table(p.map((x) => ({ stream: x.stream, version: x.version, position: x.position, attempts: x.attempts, error: x.error })), ['stream', 'version', 'position', 'attempts', 'error']);
      if (opts.connect !== undefined) return rows((await adminGroup(groupAddress(opts.connect), group, 'parked')) as GroupParkedStream[]);
      return cli.readLog(async (log) => {
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
        const out = output(cli.globals().json);
        const done = (ok: boolean) => {
          if (!ok) return out.fail(ExitCode.notFound, 'STRAND_NOT_FOUND', `Stream ${stream} is not parked in group ${group}. List parked streams with: strand groups parked ${group}`);
          out.object({ group, stream, [mode === 'retry' ? 'retried' : 'skipped']: true });
        };
        if (opts.connect !== undefined) return done((await adminGroup(groupAddress(opts.connect), group, mode, stream)) as boolean);
        return cli.withLog(async (log) => done(await resumeParkedAtRest(log, group, stream, mode)));
      });
  }
}
