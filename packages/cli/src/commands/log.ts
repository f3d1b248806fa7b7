/**
 * `strand init`, `info`, `streams`, `read`, `tail` and `append`: reading and writing the log.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { compilePattern, openLog } from '@strand/core';
import { dirSize } from '@strand/core/testing';
import type { Command } from 'commander';
import { appendInput } from '../append-input.js';
import { type Cli, isS3, openS3, sleep } from '../context.js';
import { ExitCode, output } from '../output.js';
import { remoteAppend, remoteInfo, remoteRead, remoteStreams, remoteTail } from '../remote.js';
import { tail } from '../tail.js';

/** Registers the commands that read and write the log's streams. */
export function registerLogCommands(program: Command, cli: Cli): void {
  program
    .command('init')
    .description('create a log (or open an existing one) and show it')
    .addHelpText('after', '\nExamples:\n  strand init --path ./data')
    .action(() =>
      cli.withLog(
        async (log, out) => {
          out.object({ path: cli.globals().path, position: log.position, codec: log.codec.name, created: true });
        },
        { create: true },
      ),
    );

  program
    .command('info')
    .description('size on disk, stream count, head position, backend and settings')
    .addHelpText('after', '\nExamples:\n  strand info\n  strand info --json | jq .streams')
    .action(() =>
      cli.remote((c, out, server) => remoteInfo(c, out, server)) ??
      cli.readLog(async (log, out) => {
        const path = cli.globals().path;
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
      cli.remote((c, out) => remoteStreams(c, out, prefix, opts)) ??
      cli.readLog(async (log, out) => {
        const page = await log.listChildren(prefix ?? '', { after: opts.after, limit: cli.intArg('--limit', opts.limit, 1) });
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
      cli.remote((c, out) => remoteRead(c, out, stream, opts)) ??
      cli.readLog(async (log, out) => {
        const info = await log.streamInfo(stream);
        if (info === undefined) out.fail(ExitCode.notFound, 'STRAND_NOT_FOUND', `No stream "${stream}". List streams with: strand streams`);
        const events = [];
        for await (const e of log.readStream(stream, {
          from: cli.intArg('--from', opts.from, 1),
          limit: cli.intArg('--limit', opts.limit),
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
      const viaServer = cli.remote((c, out) => remoteTail(c, out, pattern, opts));
      if (viaServer !== undefined) return viaServer;
      const { path, json } = cli.globals();
      const out = output(json);
      compilePattern(pattern);
      const from = cli.intOption('--from', opts.from, 1, ['start', 'end'] as const) ?? 'end';
      const count = cli.intArg('--count', opts.count, 1);
      const intervalMs = cli.intArg('--interval', opts.interval, 1) ?? 250;
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
      cli.remote((c, out) => remoteAppend(c, out, stream, opts)) ??
      cli.withLog(
        async (log, out) => {
          const { event, expectedVersion } = appendInput(out, opts);
          const r = await log.append(stream, [event], { expectedVersion });
          out.object({ stream: r.stream, version: r.version, position: r.position, id: r.events[0]?.id, idempotent: r.idempotent });
        },
        { create: true },
      ),
    );
}
