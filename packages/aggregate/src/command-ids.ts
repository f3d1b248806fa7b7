/**
 * The command-id index of one aggregate type: which command id produced which events on which
 * stream, written in the same atomic batch as the events (a commit hook), and forgotten after a
 * retention window through a time-ordered second index (docs/design/0004-snapshots.md).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { AppendResult, EventStore, Sublevel } from '@strand/core';

/** What the command-id hook keeps per stream and command id (also used by the unit of work). */
export interface CommandRecord {
  version: number;
  firstVersion: number;
  position: number;
  /** Hash of the command's type and parsed data (absent in records of older versions). */
  hash?: string;
  /** When the command was handled (ms since epoch; absent in records of older versions). */
  at?: number;
}

/** JSON with object keys sorted, so equal data always hashes equal. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/** The identity of a command for command-id reuse checks: its type and parsed data. */
export function commandHash(type: string, data: unknown): string {
  return createHash('sha256').update(stableJson([type, data])).digest('base64url');
}

/** Sortable time prefix of the command-id time index (ms since epoch, base 36, fixed width). */
const timeKey = (ms: number) => Math.max(0, Math.floor(ms)).toString(36).padStart(11, '0');

/** How long a command id is remembered unless the repository says otherwise: 7 days. */
export const DEFAULT_COMMAND_ID_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/** Internal signal from the command-id hook to `handle` and the unit of work; never escapes the package. */
export class DuplicateCommand extends Error {
  constructor(
    readonly record: CommandRecord,
    readonly stream: string,
  ) {
    super('This command id was already handled; returning its original result.');
  }
}

/**
 * The `commands-<aggregate>` index (`<stream>\0<command id>` to its {@link CommandRecord}) and the
 * `command-times-<aggregate>` index (`<time>\0<stream>\0<command id>`: the order in which ids expire).
 */
export class CommandIdIndex {
  private readonly commands: Sublevel;
  private readonly times: Sublevel;
  private lastPrune = 0;
  /** Removes the commit hook (a no-op on a store that runs none). */
  readonly removeHook: () => void;

  constructor(
    private readonly log: EventStore,
    aggregate: string,
    private readonly clock: () => number,
    private readonly retentionMs: number,
  ) {
    this.commands = log.sublevel(`commands-${aggregate}`);
    this.times = log.sublevel(`command-times-${aggregate}`);
    // Command ids are recorded in the same atomic batch as the events they produced, so a retried
    // command can never write twice, even when two copies race (docs/design/0004-snapshots.md).
    // A remote store runs no commit hooks: there the record is written right after the append
    // (recordAppended), and a re-sent command is still recognised by its event ids (`${commandId}:${i}`).
    this.removeHook =
      log.addCommitHook === undefined
        ? () => {}
        : log.addCommitHook({
            name: `command-ids:${aggregate}`,
            onCommit: async (events, tx) => {
              // One append may hold several streams (a unit of work): each stream's run of events is
              // one command's, recorded under that stream and the command id its first event carries.
              for (let i = 0; i < events.length; ) {
                const first = events[i]!;
                let j = i + 1;
                while (j < events.length && events[j]!.stream === first.stream) j++;
                const last = events[j - 1]!;
                i = j;
                const meta = first.metadata as { commandId?: unknown; aggregate?: unknown; commandHash?: unknown } | undefined;
                if (typeof meta?.commandId !== 'string' || meta.aggregate !== aggregate) continue;
                const key = `${first.stream}\u0000${meta.commandId}`;
                const prior = (await tx.get(this.commands, key)) as CommandRecord | undefined;
                if (prior !== undefined && prior !== null) throw new DuplicateCommand(prior, first.stream);
                const at = this.clock();
                const record: CommandRecord = { version: last.version, firstVersion: first.version, position: last.position, at };
                if (typeof meta.commandHash === 'string') record.hash = meta.commandHash;
                tx.put(this.commands, key, record);
                tx.put(this.times, `${timeKey(at)}\u0000${key}`, 1);
              }
            },
          });
  }

  /** True when the store runs the commit hook (else {@link recordAppended} writes the record). */
  get inBatch(): boolean {
    return this.log.addCommitHook !== undefined;
  }

  /** The record of a command id on a stream, if it is remembered. */
  async get(stream: string, commandId: string): Promise<CommandRecord | undefined> {
    const rec = (await this.commands.get(`${stream}\u0000${commandId}`)) as CommandRecord | undefined;
    return rec === null ? undefined : rec;
  }

  /** On a store without commit hooks: records a command right after its append. */
  async recordAppended(stream: string, commandId: string, appended: AppendResult, hash: string): Promise<void> {
    const first = appended.events[0]!;
    const at = this.clock();
    const key = `${stream}\u0000${commandId}`;
    await this.commands.put(key, { version: appended.version, firstVersion: first.version, position: appended.position, at, hash } satisfies CommandRecord);
    await this.times.put(`${timeKey(at)}\u0000${key}`, 1);
  }

  /** True at most once every tenth of the retention window (and at least a second apart): time to prune. */
  pruneDue(): boolean {
    const now = this.clock();
    if (now - this.lastPrune < Math.max(1000, this.retentionMs / 10)) return false;
    this.lastPrune = now;
    return true;
  }

  /** Forgets command ids handled more than the retention window ago. Returns how many were removed. */
  async prune(): Promise<number> {
    const cutoff = timeKey(this.clock() - this.retentionMs);
    let removed = 0;
    for (;;) {
      const keys = (await this.times.keys({ lt: cutoff, limit: 1000 }).all()) as string[];
      if (keys.length === 0) break;
      const ops: Array<{ type: 'del'; key: string; sublevel: Sublevel }> = [];
      for (const k of keys) {
        ops.push({ type: 'del', key: k, sublevel: this.times }, { type: 'del', key: k.slice(k.indexOf('\u0000') + 1), sublevel: this.commands });
      }
      await this.commands.batch(ops as never);
      removed += keys.length;
    }
    return removed;
  }
}
