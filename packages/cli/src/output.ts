/**
 * How the CLI talks: tables for people, JSON lines for scripts, colours and progress bars only
 * on a TTY, and exit codes derived from error kinds.
 *
 * @module
 */
import cliProgress from 'cli-progress';
import type { RecordedEvent, StrandError } from '@strand/core';

/** Exit codes (documented in `strand --help` and docs/cli.md). */
export const ExitCode = {
  ok: 0,
  usage: 1,
  conflict: 2,
  notFound: 3,
  data: 4,
  unavailable: 5,
  internal: 70,
} as const;

/** The exit code for a Strand error, from its kind. */
export function exitCodeOf(error: StrandError): number {
  if (error.code.endsWith('_NOT_FOUND')) return ExitCode.notFound;
  switch (error.kind) {
    case 'invalid':
    case 'denied':
      return ExitCode.usage;
    case 'conflict':
      return ExitCode.conflict;
    case 'data':
      return ExitCode.data;
    case 'closed':
    case 'unavailable':
      return ExitCode.unavailable;
    default:
      return ExitCode.internal;
  }
}

/** Where command results go. */
export interface Output {
  /** One record. */
  object(o: Record<string, unknown>): void;
  /** Rows with the given columns; `footer` is shown to people only. */
  table(rows: Array<Record<string, unknown>>, columns: string[], footer?: string): void;
  /** Events, read in one go. */
  events(events: readonly RecordedEvent[]): void;
  /** One event, as it arrives. */
  event(e: RecordedEvent): void;
  /** Prints an error and exits with `code`. */
  fail(code: number, errorCode: string, message: string): never;
  /** True when the output is for people on a terminal. */
  readonly tty: boolean;
}

const colour = (on: boolean, code: number, s: string) => (on ? `\u001b[${code}m${s}\u001b[0m` : s);

/** The output for this process. */
export function output(json: boolean): Output {
  const tty = !json && process.stdout.isTTY === true;
  const write = (s: string) => process.stdout.write(`${s}\n`);
  const describe = (e: RecordedEvent) =>
    `${colour(tty, 2, `#${e.position}`)} ${e.stream}@${e.version} ${colour(tty, 36, e.type)} ${new Date(e.timestamp).toISOString()} ${JSON.stringify(e.data)}`;
  return {
    tty,
    object(o) {
      if (json) return write(JSON.stringify(o));
      const width = Math.max(...Object.keys(o).map((k) => k.length));
      for (const [k, v] of Object.entries(o)) write(`${colour(tty, 1, k.padEnd(width))}  ${Array.isArray(v) ? (v.length === 0 ? '-' : v.join('\n'.padEnd(width + 3))) : String(v)}`);
    },
    table(rows, columns, footer) {
      if (json) return write(JSON.stringify(rows));
      const cells = rows.map((r) => columns.map((c) => String(r[c] ?? '')));
      const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
      write(colour(tty, 1, columns.map((c, i) => c.toUpperCase().padEnd(widths[i]!)).join('  ')));
      for (const r of cells) write(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
      if (rows.length === 0) write('(none)');
      if (footer) write(colour(tty, 2, footer));
    },
    events(events) {
      if (json) return write(JSON.stringify(events));
      for (const e of events) write(describe(e));
      if (events.length === 0) write('(no events)');
    },
    event(e) {
      write(json ? JSON.stringify(e) : describe(e));
    },
    fail(code, errorCode, message) {
      if (json) process.stderr.write(`${JSON.stringify({ error: errorCode, message })}\n`);
      else process.stderr.write(`${colour(process.stderr.isTTY === true, 31, 'error')} ${errorCode}: ${message}\n`);
      process.exit(code);
    },
  };
}

/** A progress bar with ETA on a TTY; silent otherwise. */
export function progressBar(out: Output, label: string, total: number): { update(n: number): void; stop(): void } {
  if (!out.tty || total === 0) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta}s`, clearOnComplete: true }, cliProgress.Presets.shades_classic);
  bar.start(total, 0);
  return { update: (n) => bar.update(n), stop: () => bar.stop() };
}

/** What `strand projections` and `strand groups` list: a consumer of the log and its parked streams. */
interface ParkingConsumer {
  name: string;
  parked: ReadonlyArray<{ stream: string; version: number; attempts: number; error: string }>;
}

/**
 * Prints one row per consumer (`row`, under `columns`), or with `parkedOnly` every parked stream
 * of every consumer, under `owner` (the consumer's name), stream, version, attempts and error.
 */
export function consumersTable<C extends ParkingConsumer>(out: Output, consumers: readonly C[], options: { owner: string; parkedOnly: boolean; columns: string[]; row: (c: C) => Record<string, unknown> }): void {
  if (options.parkedOnly) {
    const rows = consumers.flatMap((c) => c.parked.map((p) => ({ [options.owner]: c.name, stream: p.stream, version: p.version, attempts: p.attempts, error: p.error })));
    out.table(rows, [options.owner, 'stream', 'version', 'attempts', 'error']);
  } else {
    out.table(consumers.map(options.row), options.columns);
  }
}
