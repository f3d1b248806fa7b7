import { type EventLog, isStrandError, openLog, SchemaRegistry } from '@strand/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Account } from './account.fixture.js';
import { defineAggregate } from './define.js';
import { AggregateRepository } from './repository.js';
import { registerAggregate } from './schemas.js';

let log: EventLog;
beforeEach(async () => {
  log = await openLog({ memory: true });
});
afterEach(async () => {
  await log.close();
});

const withDeposited = (deposited: z.ZodType) =>
  defineAggregate({ ...Account.definition, events: { ...Account.definition.events, Deposited: deposited }, evolve: { ...Account.definition.evolve, Deposited: (s: unknown) => s } } as never);

describe('registerAggregate', () => {
  it('registers and binds the events from the definition; a second start-up is a no-op', async () => {
    const registry = await SchemaRegistry.open(log);
    const first = await registerAggregate(registry, Account);
    expect(first.map((t) => [t.type, t.version, t.outcome])).toEqual([
      ['Opened', 1, 'new'],
      ['Deposited', 1, 'new'],
      ['Withdrawn', 1, 'new'],
      ['Closed', 1, 'new'],
    ]);
    const reopened = await SchemaRegistry.open(log);
    expect((await registerAggregate(reopened, Account)).every((t) => t.outcome === 'same')).toBe(true);
    // Bound: the aggregate's streams accept only its events, validated against its schemas.
    const accounts = new AggregateRepository(log, Account);
    await accounts.handle('a', { type: 'Open', data: { owner: 'ada' } });
    const refused = await log.append('accounts/a', [{ type: 'Surprise', data: {} }]).catch((e: unknown) => e);
    expect(isStrandError(refused, 'STRAND_UNKNOWN_EVENT_TYPE')).toBe(true);
    const invalid = await log.append('accounts/a', [{ type: 'Deposited', data: { amount: 'x' } }]).catch((e: unknown) => e);
    expect(isStrandError(invalid, 'STRAND_SCHEMA_VALIDATION')).toBe(true);
    reopened.close();
    registry.close();
  });

  it('a changed event schema becomes a new version, checked for compatibility', async () => {
    const registry = await SchemaRegistry.open(log);
    await registerAggregate(registry, Account);
    const compatible = withDeposited(z.object({ amount: z.number().int(), note: z.string().optional() }));
    const r = await registerAggregate(registry, compatible);
    expect(r.find((t) => t.type === 'Deposited')).toEqual({ type: 'Deposited', version: 2, outcome: 'changed' });
    const breaking = withDeposited(z.object({ amount: z.number().int(), currency: z.string() }));
    const error = await registerAggregate(registry, breaking).catch((e: unknown) => e);
    expect(isStrandError(error, 'STRAND_INCOMPATIBLE_SCHEMA')).toBe(true);
    const upcast = await registerAggregate(registry, breaking, { upcasters: { Deposited: (d) => ({ ...(d as object), currency: 'EUR' }) } });
    expect(upcast.find((t) => t.type === 'Deposited')?.version).toBe(3);
    registry.close();
  });
});
