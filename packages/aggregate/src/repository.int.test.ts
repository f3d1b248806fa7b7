import type { EventLog, RecordedEvent } from '@strand/core';
import { collect } from '@strand/core/testing';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Account } from './account.fixture.js';
import { defineAggregate } from './define.js';
import { codeOf, levelDbLogPerTest } from './log.fixture.js';
import { AggregateRepository, type RepositoryOptions } from './repository.js';

let log: EventLog;
levelDbLogPerTest('strand-agg-', (l) => {
  log = l;
});

const repo = (options?: RepositoryOptions) => new AggregateRepository(log, Account, options);

describe('AggregateRepository on LevelDB', () => {
  it('loads, decides and appends; domain errors write nothing', async () => {
    const accounts = repo();
    const r1 = await accounts.handle('acme/1', { type: 'Open', data: { owner: 'ada' } });
    expect([r1.stream, r1.version, r1.idempotent]).toEqual(['accounts/acme/1', 1, false]);
    await accounts.handle('acme/1', { type: 'Deposit', data: { amount: 50 } });
    const before = log.position;
    expect(await codeOf(accounts.handle('acme/1', { type: 'Withdraw', data: { amount: 80 } }))).toBe('INSUFFICIENT_FUNDS');
    expect(await codeOf(accounts.handle('acme/1', { type: 'Deposit', data: { amount: -1 } }))).toBe('STRAND_INVALID_COMMAND');
    expect(await codeOf(accounts.handle('acme/1', { type: 'Nope', data: {} } as never))).toBe('STRAND_INVALID_COMMAND');
    expect(log.position).toBe(before);
    const loaded = await accounts.load('acme/1');
    expect(loaded.state).toEqual({ status: 'open', owner: 'ada', balance: 50, ops: 2 });
    expect(loaded.version).toBe(2);
    await accounts.close();
  });

  it('retries on version conflicts until every concurrent command lands exactly once', async () => {
    const accounts = repo({ backoffMs: 1, maxRetries: 50 });
    await accounts.handle('hot', { type: 'Open', data: { owner: 'bob' } });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => accounts.handle('hot', { type: 'Deposit', data: { amount: i + 1 } })));
    expect(results.some((r) => r.retries > 0)).toBe(true);
    const state = (await accounts.load('hot')).state;
    expect(state.balance).toBe(210);
    const versions = (await collect(log.readStream('accounts/hot'))).map((e) => e.version);
    expect(versions).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    await accounts.close();
  });

  it('makes a command idempotent by its id, even when copies race', async () => {
    const accounts = repo({ backoffMs: 1, maxRetries: 50 });
    await accounts.handle('idem', { type: 'Open', data: { owner: 'cy' } }, { commandId: 'open-1' });
    const again = await accounts.handle('idem', { type: 'Open', data: { owner: 'cy' } }, { commandId: 'open-1' });
    expect(again.idempotent).toBe(true);
    expect(again.version).toBe(1);
    const copies = await Promise.all(Array.from({ length: 8 }, () => accounts.handle('idem', { type: 'Deposit', data: { amount: 7 } }, { commandId: 'dep-1' })));
    expect(copies.filter((c) => !c.idempotent)).toHaveLength(1);
    expect(new Set(copies.map((c) => c.position)).size).toBe(1);
    expect((await accounts.load('idem')).state.balance).toBe(7);
    // Later commands do not make the old id reusable.
    await accounts.handle('idem', { type: 'Deposit', data: { amount: 1 } });
    expect((await accounts.handle('idem', { type: 'Deposit', data: { amount: 7 } }, { commandId: 'dep-1' })).idempotent).toBe(true);
    expect((await accounts.load('idem')).state.balance).toBe(8);
    await accounts.close();
  });

  it('keeps folded states per version: a hot aggregate loads nothing but its head, and any other write invalidates it', async () => {
    const accounts = repo();
    await accounts.handle('hot', { type: 'Open', data: { owner: 'hal' } });
    for (let i = 0; i < 5; i++) await accounts.handle('hot', { type: 'Deposit', data: { amount: 2 } });
    let loaded = await accounts.load('hot');
    expect([loaded.source, loaded.version, loaded.replayed, loaded.state.balance]).toEqual(['cache', 6, 0, 10]);
    // A write the repository did not make (another process, a plain append): only it is read.
    await log.append('accounts/hot', [{ type: 'Deposited', data: { amount: 5 } }], { expectedVersion: 6 });
    loaded = await accounts.load('hot');
    expect([loaded.source, loaded.version, loaded.replayed, loaded.state.balance]).toEqual(['cache', 7, 1, 15]);
    // Without the cache, the same state from a full fold.
    const cold = await repo({ stateCacheSize: 0 }).load('hot');
    expect([cold.source, cold.version, cold.replayed, cold.state]).toEqual(['events', 7, 7, loaded.state]);
    // History truncated past the cached version: the cache cannot bridge it and is not used.
    await accounts.handle('hot', { type: 'Deposit', data: { amount: 1 } });
    await log.append('accounts/hot', [{ type: 'Deposited', data: { amount: 1 } }, { type: 'Deposited', data: { amount: 1 } }]);
    await log.truncateBefore('accounts/hot', 10);
    expect(await codeOf(accounts.load('hot'))).toBe('STRAND_STATE_UNRECOVERABLE');
    await accounts.close();
  });


  it('refuses a command id reused for a different command (issue 21 item 3)', async () => {
    const accounts = repo();
    await accounts.handle('reuse', { type: 'Open', data: { owner: 'ann' } }, { commandId: 'c-1' });
    const dep = await accounts.handle('reuse', { type: 'Deposit', data: { amount: 5 } }, { commandId: 'c-2' });
    // Same id, same command: the original result.
    const again = await accounts.handle('reuse', { type: 'Deposit', data: { amount: 5 } }, { commandId: 'c-2' });
    expect([again.idempotent, again.position]).toEqual([true, dep.position]);
    const before = log.position;
    // Same id, other payload or other type: a typed error, nothing written.
    expect(await codeOf(accounts.handle('reuse', { type: 'Deposit', data: { amount: 6 } }, { commandId: 'c-2' }))).toBe('STRAND_COMMAND_ID_REUSED');
    expect(await codeOf(accounts.handle('reuse', { type: 'Withdraw', data: { amount: 5 } }, { commandId: 'c-2' }))).toBe('STRAND_COMMAND_ID_REUSED');
    expect(log.position).toBe(before);
    // Racing copies under one id with different payloads: exactly one lands, the others are refused.
    const outcomes = await Promise.all([1, 2, 3, 4].map((amount) => codeOf(accounts.handle('reuse', { type: 'Deposit', data: { amount } }, { commandId: 'c-3' }))));
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'STRAND_COMMAND_ID_REUSED')).toHaveLength(3);
    await accounts.close();
  });

  it('forgets command ids after their retention window: the index stays bounded (issue 21 item 22)', async () => {
    let now = 1_000_000;
    const accounts = repo({ clock: () => now, commandIdRetentionMs: 30_000 });
    await accounts.handle('bounded', { type: 'Open', data: { owner: 'bo' } }, { commandId: 'open' });
    const index = log.sublevel('commands-account');
    const times = log.sublevel('command-times-account');
    let most = 0;
    for (let i = 0; i < 300; i++) {
      now += 1_000; // one command a second, 30 s window: about 30 live ids at any time
      await accounts.handle('bounded', { type: 'Deposit', data: { amount: 1 } }, { commandId: `dep-${i}` });
      if (i % 50 === 49) {
        await accounts.flush();
        most = Math.max(most, (await index.keys().all()).length);
      }
    }
    await accounts.flush();
    expect(most).toBeLessThanOrEqual(30 + 3 + 1);
    expect((await times.keys().all()).length).toBe((await index.keys().all()).length);
    expect(accounts.stats.commandIdsPruned).toBeGreaterThan(250);
    // Within the window a re-send returns its result; after it, it is refused, never applied twice.
    expect((await accounts.handle('bounded', { type: 'Deposit', data: { amount: 1 } }, { commandId: 'dep-299' })).idempotent).toBe(true);
    const before = log.position;
    expect(await codeOf(accounts.handle('bounded', { type: 'Deposit', data: { amount: 1 } }, { commandId: 'dep-0' }))).toBe('STRAND_COMMAND_ID_REUSED');
    expect(log.position).toBe(before);
    await accounts.close();
  });

  it('a failing archive hook warns, counts a failed truncation (not a failed snapshot) and truncates nothing (issue 21 item 9)', async () => {
    const warnings: Array<{ obj: object; msg?: string }> = [];
    const logger = { debug() {}, info() {}, warn: (obj: object, msg?: string) => void warnings.push({ obj, msg }), error() {} };
    const accounts = repo({
      logger,
      snapshots: { every: 5 },
      retention: {
        mode: 'truncate',
        archive: async () => {
          throw new Error('archive bucket unreachable');
        },
      },
    });
    await accounts.handle('arch', { type: 'Open', data: { owner: 'al' } });
    for (let i = 0; i < 5; i++) await accounts.handle('arch', { type: 'Deposit', data: { amount: 1 } });
    await accounts.flush();
    expect(accounts.stats).toMatchObject({ snapshotsWritten: 1, snapshotsFailed: 0, truncationsFailed: 1, eventsTruncated: 0, eventsArchived: 0 });
    expect((await accounts.storedSnapshot('arch'))?.version).toBe(5);
    expect((await log.streamInfo('accounts/arch'))?.truncatedBefore).toBe(1);
    expect(warnings.map((w) => w.msg).join('\n')).toMatch(/not truncated/);
    await accounts.close();
  });

  it('warns on the console by default', async () => {
    const { consoleLogger } = await import('@strand/core');
    const lines: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void lines.push(args.join(' '));
    try {
      consoleLogger.warn({ stream: 's' }, 'something went wrong');
      consoleLogger.debug({ stream: 's' }, 'too chatty');
    } finally {
      console.error = original;
    }
    expect(lines).toEqual(['strand warn: something went wrong {"stream":"s"}']);
  });

  it('snapshots every N events and then loads only the events after the snapshot', async () => {
    const accounts = repo({ snapshots: { every: 10 } });
    await accounts.handle('s', { type: 'Open', data: { owner: 'di' } });
    for (let i = 0; i < 24; i++) await accounts.handle('s', { type: 'Deposit', data: { amount: 1 } });
    await accounts.flush();
    expect((await accounts.storedSnapshot('s'))?.version).toBe(20);
    expect(accounts.stats.snapshotsWritten).toBe(2);
    // The repository that handled the commands answers from its folded state...
    const warm = await accounts.load('s');
    expect([warm.source, warm.replayed, warm.version, warm.state.balance]).toEqual(['cache', 0, 25, 24]);
    // ...one that has not seen the stream (a restarted process) starts from the snapshot.
    const loaded = await repo().load('s');
    expect([loaded.source, loaded.snapshotVersion, loaded.replayed, loaded.version, loaded.state]).toEqual(['snapshot', 20, 5, 25, warm.state]);
    await accounts.close();
  });

  it('snapshots when a load had to replay too much', async () => {
    const writer = repo();
    await writer.handle('r', { type: 'Open', data: { owner: 'ed' } });
    for (let i = 0; i < 8; i++) await writer.handle('r', { type: 'Deposit', data: { amount: 2 } });
    // A repository with the folded state cached replays nothing; a cold one replays the stream.
    const accounts = repo({ snapshots: { whenReplayOver: 5 } });
    const cold = await accounts.load('r');
    expect([cold.source, cold.replayed]).toEqual(['events', 9]);
    await accounts.flush();
    expect((await accounts.storedSnapshot('r'))?.version).toBe(9);
    const next = await repo().load('r');
    expect([next.source, next.snapshotVersion, next.replayed, next.state]).toEqual(['snapshot', 9, 0, cold.state]);
    // Under the threshold, no snapshot: a load that replays 5 events is within the policy.
    const few = repo({ snapshots: { whenReplayOver: 5 } });
    await writer.handle('q', { type: 'Open', data: { owner: 'flo' } });
    for (let i = 0; i < 4; i++) await writer.handle('q', { type: 'Deposit', data: { amount: 2 } });
    expect((await few.load('q')).replayed).toBe(5);
    await few.flush();
    expect(await few.storedSnapshot('q')).toBeUndefined();
    await Promise.all([writer.close(), accounts.close(), few.close()]);
  });

  it('ignores snapshots of an older state version (and rebuilds them), or migrates them', async () => {
    const v1 = repo({ snapshots: { every: 5 } });
    await v1.handle('m', { type: 'Open', data: { owner: 'fay' } });
    for (let i = 0; i < 6; i++) await v1.handle('m', { type: 'Deposit', data: { amount: 3 } });
    await v1.close();
    const AccountV2 = defineAggregate({ ...Account.definition, stateVersion: 2 });
    const v2 = new AggregateRepository(log, AccountV2, { snapshots: { every: 5 } });
    const loaded = await v2.load('m');
    expect([loaded.source, loaded.snapshotVersion, loaded.replayed, loaded.state.balance]).toEqual(['events', 0, 7, 18]);
    expect(v2.stats.snapshotsIgnored).toBe(1);
    await v2.snapshot('m');
    expect((await v2.storedSnapshot('m'))?.stateVersion).toBe(2);
    const again = await new AggregateRepository(log, AccountV2).load('m');
    expect([again.source, again.snapshotVersion, again.replayed]).toEqual(['snapshot', 7, 0]);
    await v2.close();
  });

  it('truncates history older than the snapshot, archives it first, and says so on full reads', async () => {
    const archived: RecordedEvent[] = [];
    const accounts = repo({
      snapshots: { every: 10 },
      retention: { mode: 'truncate', keepLast: 2, archive: async (_s, events) => void archived.push(...events) },
    });
    await accounts.handle('t', { type: 'Open', data: { owner: 'gus' } });
    for (let i = 0; i < 14; i++) await accounts.handle('t', { type: 'Deposit', data: { amount: 1 } });
    await accounts.flush();
    expect((await log.streamInfo('accounts/t'))?.truncatedBefore).toBe(9);
    expect(archived.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(accounts.stats.eventsTruncated).toBe(8);
    expect(await codeOf(collect(log.readStream('accounts/t')))).toBe('STRAND_STREAM_TRUNCATED');
    const loaded = await repo().load('t');
    expect([loaded.source, loaded.state.balance, loaded.version, loaded.snapshotVersion, loaded.replayed]).toEqual(['snapshot', 14, 15, 10, 5]);

    // A state change after truncation cannot rebuild from events: it says so, unless migrated.
    const AccountV2 = defineAggregate({ ...Account.definition, stateVersion: 2 });
    expect(await codeOf(new AggregateRepository(log, AccountV2).load('t'))).toBe('STRAND_STATE_UNRECOVERABLE');
    const Migrating = defineAggregate({ ...Account.definition, stateVersion: 2, migrateSnapshot: (s) => s as never });
    expect((await new AggregateRepository(log, Migrating).load('t')).state.balance).toBe(14);
    await accounts.close();
  });

  it('never fails a command because a snapshot failed', async () => {
    const Strict = defineAggregate({ ...Account.definition, state: Account.definition.state.refine((s) => s.balance < 5, 'too rich to snapshot') });
    const accounts = new AggregateRepository(log, Strict, { snapshots: { every: 2 } });
    await accounts.handle('f', { type: 'Open', data: { owner: 'hal' } });
    for (let i = 0; i < 6; i++) await accounts.handle('f', { type: 'Deposit', data: { amount: 1 } });
    await accounts.flush();
    expect(accounts.stats.snapshotsFailed).toBeGreaterThan(0);
    expect((await accounts.load('f')).state.balance).toBe(6);
    await accounts.close();
  });

  it('awaits afterCommit before resolving', async () => {
    const accounts = repo();
    const seen: number[] = [];
    const r = await accounts.handle('ac', { type: 'Open', data: { owner: 'ivy' } }, { afterCommit: async (res) => void seen.push(res.position) });
    expect(seen).toEqual([r.position]);
    await accounts.close();
  });

  it('validates its inputs', async () => {
    expect(() => new AggregateRepository(log, Account, { snapshots: { every: 0 } })).toThrow(/every/);
    expect(() => new AggregateRepository(log, Account, { retention: { mode: 'drop' } as never })).toThrow(/retention/);
    const accounts = repo();
    expect(await codeOf(accounts.handle('', { type: 'Open', data: { owner: 'x' } }))).toBe('STRAND_INVALID_ARGUMENT');
    expect(await codeOf(accounts.handle('a//b', { type: 'Open', data: { owner: 'x' } }))).toBe('STRAND_INVALID_STREAM_NAME');
    expect(await codeOf(accounts.handle('ok', { type: 'Open', data: { owner: 'x' } }, { commandId: '' }))).toBe('STRAND_INVALID_ARGUMENT');
    expect(log.position).toBe(0);
    await accounts.close();
  });

  it('infers types from the schemas', () => {
    const Counter = defineAggregate({
      name: 'counter',
      stream: (id) => `counters/${id}`,
      commands: { Add: z.object({ n: z.number() }) },
      events: { Added: z.object({ n: z.number() }) },
      state: z.object({ total: z.number() }),
      initialState: () => ({ total: 0 }),
      decide: { Add: (c) => ({ type: 'Added', data: { n: c.n } }) },
      evolve: {
        Added: (s, e) => ({ total: s.total + e.n }),
        // @ts-expect-error: Removed is not a declared event type, so a handler for it does not compile.
        Removed: (s: { total: number }) => s,
      },
    });
    expect(Counter.fold([{ type: 'Added', data: { n: 2 } }]).total).toBe(2);
  });
});
