/**
 * What every command shares: the global options, and opening the log they name (LevelDB, waiting
 * while another process holds it, or S3, where commands that only read open a follower).
 *
 * @module
 */
import { existsSync } from 'node:fs';
import type { StrandClient } from '@strand/client';
import { type EventLog, isStrandError, openLog, StrandError } from '@strand/core';
import { openS3Log } from '@strand/store-s3';
import type { Command } from 'commander';
import { ExitCode, type Output, output } from './output.js';
import { withServer } from './remote.js';

/** The options every command takes (`strand --help`). */
export interface GlobalOptions {
  path: string;
  json: boolean;
  lockTimeout: string;
  server?: string;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** True for an `s3://` log location. */
export const isS3 = (path: string) => path.startsWith('s3://');

/**
 * Opens an s3:// log. Commands that only read open a follower (`readOnly=true`): opening a writer
 * would fence the application's writer.
 */
export async function openS3(url: string, readOnly: boolean, pollIntervalMs?: number): Promise<EventLog> {
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
    `The log at ${path} is held by another process, probably your running application (LevelDB lets one process open a directory; waited ${waitedMs} ms). Stop that process and retry, or wait longer with --lock-timeout <ms>; serve the log from that process (strand serve, or createServer in the application) and point this command at it with --server URL; or keep the log on S3 (--path s3://...), where read-only commands open a follower beside the running writer.`,
    { cause, details: { path, waitedMs } },
  );
}

/**
 * Opens the log, waiting while another process holds it (LevelDB allows one process per
 * directory; short-lived commands like `strand append` take turns).
 */
export async function openWaiting(path: string, lockTimeoutMs: number, readOnly: boolean): Promise<EventLog> {
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

/** The commands' view of the program: its global options and the log they name. */
export interface Cli {
  /** The global options as parsed. */
  globals(): GlobalOptions;
  /**
   * Opens the log at `--path`, runs `fn` and closes it. `readOnly`: the command only reads (on S3
   * it then opens a follower, which never fences the writer); `create`: a missing log is created.
   */
  withLog<T>(fn: (log: EventLog, out: Output) => Promise<T>, options?: { create?: boolean; readOnly?: boolean }): Promise<T>;
  /** {@link Cli.withLog} for commands that only read. */
  readLog<T>(fn: (log: EventLog, out: Output) => Promise<T>): Promise<T>;
  /**
   * A whole-number option as the user typed it: `undefined` when absent, else an integer >= `min`
   * (or one of `words`); anything else fails with a message quoting what was typed.
   */
  intOption<W extends string = never>(name: string, raw: string | undefined, min?: number, words?: readonly W[]): number | W | undefined;
  /** {@link Cli.intOption} without words. */
  intArg(name: string, raw: string | undefined, min?: number): number | undefined;
  /** With `--server URL`: runs `fn` against the server through the client, else returns undefined. */
  remote(fn: (client: StrandClient, out: Output, server: string) => Promise<void>): Promise<void> | undefined;
}

/** The {@link Cli} of `program`. */
export function cliContext(program: Command): Cli {
  const globals = () => program.opts<GlobalOptions>();
  const intOption = <W extends string = never>(name: string, raw: string | undefined, min = 0, words: readonly W[] = []): number | W | undefined => {
    if (raw === undefined) return undefined;
    if ((words as readonly string[]).includes(raw)) return raw as W;
    if (/^\d+$/.test(raw) && Number.isSafeInteger(Number(raw)) && Number(raw) >= min) return Number(raw);
    const allowed = [`an integer >= ${min}`, ...words.map((w) => `'${w}'`)].join(' or ');
    return output(globals().json).fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', `${name} must be ${allowed}; got ${JSON.stringify(raw)}.`);
  };
  const intArg = (name: string, raw: string | undefined, min = 0): number | undefined => intOption(name, raw, min) as number | undefined;
  const withLog = async <T>(fn: (log: EventLog, out: Output) => Promise<T>, options: { create?: boolean; readOnly?: boolean } = {}): Promise<T> => {
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
  };
  const remote = (fn: (client: StrandClient, out: Output, server: string) => Promise<void>): Promise<void> | undefined => {
    const { server, json } = globals();
    if (server === undefined) return undefined;
    const out = output(json);
    return withServer(server, out, (client) => fn(client, out, server));
  };
  return { globals, withLog, readLog: (fn) => withLog(fn, { readOnly: true }), intOption, intArg, remote };
}
