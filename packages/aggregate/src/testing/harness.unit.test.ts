import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Account } from '../account.fixture.js';
import { defineAggregate, ensure } from '../define.js';
import { checkAggregate } from './property.js';
import { scenario } from './spec.js';
import { arbitraryFromZod, arbitraryMessage } from './zod-arbitrary.js';

describe('given/when/then', () => {
  it('passes on the right events, fails on wrong ones', () => {
    const spec = scenario(Account).given([{ type: 'Opened', data: { owner: 'ada' } }, { type: 'Deposited', data: { amount: 5 } }]);
    spec.when({ type: 'Withdraw', data: { amount: 5 } }).thenEvents([{ type: 'Withdrawn', data: { amount: 5 } }]);
    spec.when({ type: 'Withdraw', data: { amount: 6 } }).thenFails('INSUFFICIENT_FUNDS');
    spec.when({ type: 'Deposit', data: { amount: 1 } }).thenState((s) => expect(s.balance).toBe(6));
    expect(() => spec.when({ type: 'Withdraw', data: { amount: 5 } }).thenEvents([{ type: 'Withdrawn', data: { amount: 4 } }])).toThrow();
    expect(() => spec.when({ type: 'Withdraw', data: { amount: 1 } }).thenFails('INSUFFICIENT_FUNDS')).toThrow(/expected/);
    expect(() => spec.when({ type: 'Withdraw', data: { amount: 0 } }).thenFails('STRAND_INVALID_COMMAND')).not.toThrow();
  });
});

describe('zod arbitraries', () => {
  it('generate only values the schema accepts', () => {
    const schema = z.object({
      n: z.number().int().min(-5).max(5),
      s: z.string().min(2).max(4),
      e: z.enum(['a', 'b']),
      o: z.object({ d: z.iso.datetime(), u: z.uuid().optional() }),
      l: z.array(z.union([z.boolean(), z.null()])).max(3),
      k: z.literal('k'),
      x: z.number().positive().nullable(),
    });
    fc.assert(fc.property(arbitraryFromZod(schema), (v) => schema.safeParse(v).success));
  });

  it('derive command arbitraries that cover every command type', () => {
    const seen = new Set<string>();
    fc.assert(fc.property(arbitraryMessage(Account.definition.commands), (c) => void seen.add(c.type)));
    expect([...seen].sort()).toEqual(['Close', 'Deposit', 'Open', 'Withdraw']);
  });

  it('respect refinements the JSON Schema cannot express', () => {
    const even = z.number().int().min(0).max(100).refine((n) => n % 2 === 0);
    fc.assert(fc.property(arbitraryFromZod(even), (n) => n % 2 === 0));
    const custom = z.object({ f: z.custom<number>((v) => typeof v === 'number') });
    fc.assert(fc.property(arbitraryFromZod(custom), (v) => typeof v.f === 'number'));
  });
});

describe('property harness', () => {
  it('passes a correct aggregate and reports what it did', () => {
    const report = checkAggregate(Account, {
      invariants: [(s) => s.balance >= 0, (s, history) => s.ops === history.length],
      parameters: { numRuns: 200 },
    });
    expect(report.accepted).toBeGreaterThan(0);
    expect(report.refused).toBeGreaterThan(0);
  });

  // Variants of Account with one deliberate bug each (typed loosely: the bugs do not type-check on purpose).
  const broken = (patch: Record<string, unknown>): typeof Account => defineAggregate({ ...(Account.definition as object), ...patch } as never) as unknown as typeof Account;

  it('catches a broken invariant, with the seed', () => {
    expect(() =>
      checkAggregate(Account, { invariants: [(s) => s.balance < 300], parameters: { numRuns: 300 } }),
    ).toThrow(/seed/);
  });

  it('catches an evolve that mutates its state', () => {
    const Mutating = broken({
      evolve: {
        ...Account.definition.evolve,
        Deposited: (s: { balance: number }, e: { amount: number }) => {
          s.balance += e.amount;
          return s;
        },
      },
    });
    expect(() => checkAggregate(Mutating, { parameters: { numRuns: 300 } })).toThrow();
  });

  it('catches a non-deterministic decide', () => {
    let calls = 0;
    const Flaky = broken({
      decide: { ...Account.definition.decide, Deposit: (c: { amount: number }) => ({ type: 'Deposited', data: { amount: c.amount + (calls++ % 2) } }) },
    });
    expect(() => checkAggregate(Flaky, { parameters: { numRuns: 300 } })).toThrow(/deterministic/);
  });

  it('catches state that a snapshot cannot restore', () => {
    const Lossy = defineAggregate({
      name: 'lossy',
      stream: (id) => `lossy/${id}`,
      commands: { Touch: z.object({}) },
      events: { Touched: z.object({}) },
      // The state schema strips `seen`, so a restored snapshot loses it.
      state: z.object({ count: z.number() }),
      initialState: () => ({ count: 0 }),
      decide: { Touch: () => ({ type: 'Touched', data: {} }) },
      evolve: { Touched: (s) => ({ ...s, count: s.count + 1, seen: true }) as { count: number } },
    });
    expect(() => checkAggregate(Lossy, { parameters: { numRuns: 50 } })).toThrow(/snapshot/);
  });

  it('catches events that do not survive serialization', () => {
    const Dated = defineAggregate({
      name: 'dated',
      stream: (id) => `dated/${id}`,
      commands: { Stamp: z.object({}) },
      events: { Stamped: z.object({ at: z.date() }) },
      state: z.object({ n: z.number() }),
      initialState: () => ({ n: 0 }),
      decide: { Stamp: () => ({ type: 'Stamped', data: { at: new Date(0) } }) },
      evolve: { Stamped: (s) => ({ n: s.n + 1 }) },
    });
    expect(() => checkAggregate(Dated, { parameters: { numRuns: 20 } })).toThrow(/round trip|Stamped/);
    void ensure;
  });

  it('says what failed, on which command, and how to fix it (issue 21 item 11)', () => {
    const message = (fn: () => unknown): string => {
      try {
        fn();
      } catch (error) {
        return String((error as Error).message);
      }
      return 'passed';
    };
    const Mutating = broken({
      evolve: {
        ...Account.definition.evolve,
        Opened: (s: { owner: string; status: string }, e: { owner: string }) => {
          s.owner = e.owner;
          s.status = 'open';
          return s;
        },
      },
    });
    const mutation = message(() => checkAggregate(Mutating, { parameters: { numRuns: 100, seed: 1 } }));
    expect(mutation).toMatch(/evolve for Opened threw on command Open .* at step \d+/);
    expect(mutation).toMatch(/mutated its input.*return a new object/);
    expect(mutation).toMatch(/seed/);

    const Dated = defineAggregate({
      name: 'dated-state',
      stream: (id) => `dated-state/${id}`,
      commands: { Stamp: z.object({}) },
      events: { Stamped: z.object({}) },
      state: z.object({ at: z.date().nullable() }),
      initialState: () => ({ at: null }),
      decide: { Stamp: () => ({ type: 'Stamped', data: {} }) },
      evolve: { Stamped: () => ({ at: new Date(0) }) },
    });
    const lossy = message(() => checkAggregate(Dated, { parameters: { numRuns: 20, seed: 1 } }));
    expect(lossy).toMatch(/does not survive a snapshot \(JSON, then the state schema\).*Keep the state JSON-safe/);
    expect(lossy).not.toMatch(/^ZodError/);

    const named = message(() => checkAggregate(Account, { invariants: { 'balance stays under 300': (s) => s.balance < 300 }, parameters: { numRuns: 300, seed: 1 } }));
    expect(named).toMatch(/invariant "balance stays under 300" broken on command Deposit \{"amount":\d+\} at step \d+/);
    const arrow = message(() => checkAggregate(Account, { invariants: [{ name: 'small', check: (s) => s.balance < 300 }], parameters: { numRuns: 300, seed: 1 } }));
    expect(arrow).toMatch(/invariant "small" broken/);
  });
});
