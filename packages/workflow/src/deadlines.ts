/**
 * A workflow's durable deadline index, `wf-<name>-deadlines`: one key per pending deadline,
 * `<at>\0<instance>\0<name>`, so the soonest is first. A commit hook changes it in the same atomic
 * batch as the instance records that schedule, cancel or fire a deadline, so a crash can neither
 * lose a scheduled deadline nor fire a cancelled or fired one again (docs/design/0012-workflows.md).
 *
 * @module
 */
import type { EventLog, Sublevel } from '@strand/core';

/** A time or a position as a fixed-width, sortable key part. */
export const pad = (at: number) => String(Math.max(0, Math.floor(at))).padStart(16, '0');

/** A pending deadline as indexed. */
export interface IndexedDeadline {
  /** Its key in the index. */
  key: string;
  instance: string;
  name: string;
  at: number;
  data: unknown;
}

/** The deadline index of one workflow, kept by a commit hook on the log. */
export class DeadlineIndex {
  private readonly db: Sublevel;
  /** Removes the commit hook. */
  readonly removeHook: () => void;

  constructor(log: EventLog, workflow: string) {
    this.db = log.sublevel(`wf-${workflow}-deadlines`);
    const prefix = `workflows/${workflow}/`;
    this.removeHook = log.addCommitHook({
      name: `workflow-deadlines:${workflow}`,
      onCommit: (events, tx) => {
        for (const e of events) {
          if (!e.stream.startsWith(prefix)) continue;
          const instance = e.stream.slice(prefix.length);
          const key = (name: string, at: number) => `${pad(at)}\u0000${instance}\u0000${name}`;
          if (e.type === 'DeadlineScheduled') {
            const d = e.data as { name: string; at: number; data: unknown };
            tx.put(this.db, key(d.name, d.at), { instance, name: d.name, at: d.at, data: d.data });
          } else if (e.type === 'DeadlineCancelled') {
            const d = e.data as { name: string; at: number };
            tx.del(this.db, key(d.name, d.at));
          } else if (e.type === 'Received') {
            const input = (e.data as { input: { kind: string; type: string; at?: number } }).input;
            if (input.kind === 'deadline' && input.at !== undefined) tx.del(this.db, key(input.type, input.at));
          }
        }
      },
    });
  }

  /** The deadlines due at `now`, soonest first, except those `skip` passes over. */
  async due(now: number, skip: (d: IndexedDeadline) => boolean): Promise<IndexedDeadline[]> {
    const due: IndexedDeadline[] = [];
    for await (const [key, value] of this.db.iterator({ lt: `${pad(now)}\u0001` })) {
      const d = { key: key as string, ...(value as Omit<IndexedDeadline, 'key'>) };
      if (!skip(d)) due.push(d);
    }
    return due;
  }

  /** When the soonest pending deadline is due, if there is one. */
  async first(): Promise<number | undefined> {
    const [first] = await this.db.keys({ limit: 1 }).all();
    return first === undefined ? undefined : Number((first as string).slice(0, 16));
  }

  /** Every pending deadline, soonest first. */
  async pending(): Promise<Array<{ instance: string; name: string; at: number }>> {
    const out: Array<{ instance: string; name: string; at: number }> = [];
    for await (const value of this.db.values()) {
      const v = value as { instance: string; name: string; at: number };
      out.push({ instance: v.instance, name: v.name, at: v.at });
    }
    return out;
  }
}
