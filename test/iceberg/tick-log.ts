/**
 * The log the Iceberg maintenance and merge suites export from: `Tick` registered, one day for
 * every event (so partitions, and so file counts, do not depend on when the test runs), `fetch`
 * routed to the tables for icebird, all in a temporary directory removed after the suite.
 *
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventLog, openLog, SchemaRegistry } from '@strand/core';
import { afterAll, beforeAll } from 'vitest';
import type { z } from 'zod';
import { serveTables } from '../support/iceberg.js';

/** What {@link useTickLog} opens, set before the suite's first test. */
export interface TickLog {
  root: string;
  log: EventLog;
  registry: SchemaRegistry;
}

/** Opens the suite's log before its tests (`Tick` registered with `schema`) and closes and removes it after them. */
export function useTickLog(name: string, schema: z.ZodType): TickLog {
  const t = {} as TickLog;
  let restore: () => void = () => {};
  beforeAll(async () => {
    t.root = await mkdtemp(join(tmpdir(), `strand-iceberg-${name}-`));
    restore = serveTables();
    t.log = await openLog({ path: join(t.root, 'log'), clock: () => Date.UTC(2026, 5, 1, 12) });
    t.registry = await SchemaRegistry.open(t.log);
    await t.registry.register('Tick', 1, schema);
  });
  afterAll(async () => {
    restore();
    await t.log.close();
    await rm(t.root, { recursive: true, force: true });
  });
  return t;
}

/** The global positions of the log's `Tick` events, in order. */
export async function tickPositions(log: EventLog): Promise<number[]> {
  const out: number[] = [];
  for await (const e of log.readAll()) if (e.type === 'Tick') out.push(e.position);
  return out;
}
