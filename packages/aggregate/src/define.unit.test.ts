import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { Account } from './account.fixture.js';
import { type CommandOf, defineAggregate, type EventOf, type StateOf } from './define.js';
import type { AggregateRepository } from './repository.js';
import type { RepositoryOf } from './repository.js';

const minimal = (stream: (id: string) => string, idOf?: (s: string) => string | undefined) =>
  defineAggregate({
    name: 'm',
    stream,
    commands: {},
    events: {},
    state: z.object({}),
    initialState: () => ({}),
    decide: {},
    evolve: {},
    ...(idOf ? { idOf } : {}),
  });

describe('aggregate stream rules and type helpers', () => {
  it('idOf inverts stream(id), ids with slashes included; foreign streams give undefined', () => {
    for (const id of ['a', 'eu/acct-7', 'x/y/z']) expect(Account.idOf(Account.streamOf(id))).toBe(id);
    expect(Account.idOf('orders/eu/1')).toBeUndefined();
    expect(Account.idOf('accounts/')).toBeUndefined();
    expect(Account.streamPattern).toBe('accounts/>');
    const suffixed = minimal((id) => `shop/${id}/cart`);
    expect(suffixed.idOf('shop/eu/9/cart')).toBe('eu/9');
    expect(suffixed.idOf('shop/eu/9/cartx')).toBeUndefined();
    expect(suffixed.streamPattern).toBeUndefined();
  });

  it('a stream rule that is not text around the id needs an explicit idOf', () => {
    const hashed = minimal((id) => `h/${id.length % 4}/${id}`);
    expect(() => hashed.idOf('h/1/a')).toThrow(/idOf/);
    const given = minimal(
      (id) => `h/${id.length % 4}/${id}`,
      (s) => s.split('/').slice(2).join('/') || undefined,
    );
    expect(given.idOf('h/1/a')).toBe('a');
    expect(given.streamPattern).toBeUndefined();
  });

  it('StateOf, CommandOf, EventOf and RepositoryOf name the inferred types', () => {
    expectTypeOf<StateOf<typeof Account>>().toEqualTypeOf<{ status: 'new' | 'open' | 'closed'; owner: string; balance: number; ops: number }>();
    expectTypeOf<CommandOf<typeof Account>>().toExtend<{ type: 'Open' | 'Deposit' | 'Withdraw' | 'Close'; data: unknown }>();
    expectTypeOf<Extract<EventOf<typeof Account>, { type: 'Deposited' }>['data']>().toEqualTypeOf<{ amount: number }>();
    expectTypeOf<RepositoryOf<typeof Account>>().toEqualTypeOf<
      AggregateRepository<typeof Account.definition.commands, typeof Account.definition.events, typeof Account.definition.state>
    >();
    const deposit: CommandOf<typeof Account> = { type: 'Deposit', data: { amount: 1 } };
    expect(Account.parseCommand(deposit)).toEqual(deposit);
  });
});
