/**
 * The property harness: random command sequences against an aggregate, checking after every
 * accepted command the laws every decider must keep and the invariants the user states.
 *
 * @module
 */
import { isDeepStrictEqual } from 'node:util';
import { isStrandError, msgpackCodec } from '@strand/core';
import fc from 'fast-check';
import type { z } from 'zod';
import type { Aggregate, Message, SchemaMap } from '../define.js';
import { arbitraryMessage } from './zod-arbitrary.js';

/** An invariant on the state after every accepted command: throw or return false to fail. */
export type Invariant<E extends SchemaMap, S> = (state: S, history: readonly Message<E>[]) => boolean | void;

/** Options of {@link checkAggregate}. */
export interface CheckOptions<C extends SchemaMap, E extends SchemaMap, S> {
  /** Commands to try (default: derived from the command schemas). */
  commands?: fc.Arbitrary<Message<C>>;
  /**
   * Invariants on the state after every accepted command: throw or return false to fail. Name them
   * for the failure message: `{ 'balance never negative': (s) => s.balance >= 0 }`, or an array of
   * functions (their function names are used) or of `{ name, check }`.
   */
  invariants?: Record<string, Invariant<E, S>> | Array<Invariant<E, S> | { name: string; check: Invariant<E, S> }>;
  /** Longest command sequence (default 40). */
  maxCommands?: number;
  /** fast-check parameters (numRuns, seed, path, verbose...). Default 100 runs. */
  parameters?: fc.Parameters<[Message<C>[]]>;
}

/** What one run did, for users who want to assert on coverage. */
export interface CheckReport {
  /** Commands accepted (that decided at least zero events without error). */
  accepted: number;
  /** Commands refused with a domain error. */
  refused: number;
  /** Events produced. */
  events: number;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const clone = <T>(v: T): T => structuredClone(v);

const show = (v: unknown): string => {
  try {
    const s = JSON.stringify(v) ?? String(v);
    return s.length > 200 ? `${s.slice(0, 200)}…` : s;
  } catch {
    return String(v);
  }
};
const messageOf = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/** A property of the aggregate did not hold: says which, on which command, and how to fix it. */
function failure(property: string, where: string, fix: string, cause?: unknown): Error {
  return new Error(`checkAggregate: ${property} ${where}.${cause === undefined ? '' : ` (${messageOf(cause)})`} ${fix}`, cause === undefined ? undefined : { cause });
}

function namedInvariants<E extends SchemaMap, S>(invariants: CheckOptions<SchemaMap, E, S>['invariants']): Array<{ name: string; check: Invariant<E, S> }> {
  if (invariants === undefined) return [];
  if (Array.isArray(invariants)) {
    return invariants.map((inv, i) => (typeof inv === 'function' ? { name: inv.name || `#${i + 1}`, check: inv } : { name: inv.name, check: inv.check }));
  }
  return Object.entries(invariants).map(([name, check]) => ({ name, check }));
}

/** When an error looks like a write to frozen input, says so (inputs are frozen to catch mutation). */
function mutationHint(error: unknown): string | undefined {
  const m = error instanceof TypeError ? error.message : '';
  if (!/read[ -]only|not extensible|frozen|Cannot (add|assign|delete)|object is not extensible/i.test(m)) return undefined;
  return 'It mutated its input (the harness freezes states, commands and events to catch this): return a new object instead, e.g. evolve: (s, e) => ({ ...s, balance: s.balance + e.amount }).';
}

/**
 * Runs random command sequences and checks, after every accepted command:
 * - the user's invariants;
 * - every emitted event validates against its schema and survives JSON and msgpack round trips;
 * - `decide` and `evolve` are deterministic and do not mutate their inputs (inputs are frozen);
 * - the state rebuilt from a snapshot (state serialized as JSON and parsed by the state schema)
 *   plus the events after it equals the state from a full replay, for every snapshot point.
 * Fails with fast-check's report: seed, path and the shrunk command sequence.
 */
export function checkAggregate<C extends SchemaMap, E extends SchemaMap, S extends z.ZodType>(aggregate: Aggregate<C, E, S>, options: CheckOptions<C, E, z.output<S>> = {}): CheckReport {
  const commands = options.commands ?? (arbitraryMessage(aggregate.definition.commands) as fc.Arbitrary<Message<C>>);
  const report: CheckReport = { accepted: 0, refused: 0, events: 0 };
  const stateSchema = aggregate.definition.state;
  const invariants = namedInvariants<E, z.output<S>>(options.invariants);
  fc.assert(
    fc.property(fc.array(commands, { maxLength: options.maxCommands ?? 40 }), (sequence) => {
      let state = aggregate.definition.initialState();
      const history: Message<E>[] = [];
      const states: unknown[] = [clone(state)];
      sequence.forEach((raw, step) => {
        const ctx = { id: 'prop-1', now: 1_700_000_000_000 + step };
        const command = deepFreeze(aggregate.parseCommand(clone(raw)));
        const where = `on command ${command.type} ${show(command.data)} at step ${step + 1} of the sequence`;
        deepFreeze(state);
        let events: Message<E>[];
        try {
          events = aggregate.decide(command, state, ctx);
        } catch (error) {
          if (isStrandError(error, 'STRAND_DOMAIN_REJECTED')) {
            report.refused++;
            return;
          }
          if (isStrandError(error, 'STRAND_INVALID_DECISION')) throw failure('decide returned an invalid event', where, 'Emit only declared events whose data matches their schema.', error);
          throw failure(`decide threw instead of deciding or refusing`, where, mutationHint(error) ?? 'Refuse with ensure(condition, CODE, message) (a DomainError); any other exception is a bug in decide.', error);
        }
        const again = aggregate.decide(aggregate.parseCommand(clone(raw)), clone(state), ctx);
        if (!isDeepStrictEqual(again, events)) {
          throw failure('decide is not deterministic', where, `It returned ${show(events)} once and ${show(again)} for the same command and state: use ctx.now and ctx.id instead of Date.now(), Math.random() or outside state.`);
        }
        for (const e of events) {
          let viaJson: unknown;
          try {
            viaJson = aggregate.parseEvent(e.type, JSON.parse(JSON.stringify(e.data)));
          } catch (error) {
            throw failure(`event ${e.type} does not survive a JSON round trip`, where, 'Stored events are JSON: use JSON-safe data (ISO strings for dates, numbers, plain objects and arrays).', error);
          }
          if (!isDeepStrictEqual(viaJson, e)) {
            throw failure(`event ${e.type} does not survive a JSON round trip`, where, `${show(e.data)} reads back as ${show((viaJson as Message<E>).data)}: use JSON-safe data (ISO strings for dates, no undefined, NaN or class instances).`);
          }
          const ctxCodec = { stream: 'prop', type: e.type };
          let viaMsgpack: unknown;
          try {
            viaMsgpack = aggregate.parseEvent(e.type, msgpackCodec.decode(msgpackCodec.encode(e.data, ctxCodec), ctxCodec));
          } catch (error) {
            throw failure(`event ${e.type} does not survive a msgpack round trip`, where, 'Use plain data in events.', error);
          }
          if (!isDeepStrictEqual(viaMsgpack, e)) throw failure(`event ${e.type} does not survive a msgpack round trip`, where, 'Use plain data in events.');
          deepFreeze(e);
          let next: z.output<S>;
          try {
            next = aggregate.evolve(state, e);
          } catch (error) {
            throw failure(`evolve for ${e.type} threw`, where, mutationHint(error) ?? 'evolve must accept every event decide can emit; fix the handler.', error);
          }
          const nextAgain = aggregate.evolve(clone(state), clone(e));
          if (!isDeepStrictEqual(next, nextAgain)) throw failure(`evolve is not deterministic for ${e.type}`, where, 'evolve must depend only on the state and the event.');
          state = next;
          history.push(e);
          states.push(clone(state));
          report.events++;
        }
        report.accepted++;
        for (const invariant of invariants) {
          let ok: boolean | void;
          try {
            ok = invariant.check(state, history);
          } catch (error) {
            throw failure(`invariant "${invariant.name}" broken`, where, `State: ${show(state)}.`, error);
          }
          if (ok === false) throw failure(`invariant "${invariant.name}" broken`, where, `State: ${show(state)}.`);
        }
        const parsedFinal = stateSchema.safeParse(state);
        if (!parsedFinal.success) {
          throw failure('the state does not match the state schema', where, `State: ${show(state)}; issues: ${parsedFinal.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}. Fix evolve or the state schema.`);
        }
      });
      // Snapshot at every point k, then fold the tail: must equal the full replay.
      const full = aggregate.fold(history);
      states.forEach((snap, k) => {
        const where = `for the snapshot after event ${k} of ${history.length}`;
        const restoredJson = stateSchema.safeParse(JSON.parse(JSON.stringify(snap)));
        if (!restoredJson.success) {
          throw failure(
            'the state does not survive a snapshot (JSON, then the state schema)',
            where,
            `State ${show(snap)} fails the schema after JSON: ${restoredJson.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}. Keep the state JSON-safe (no Date, Map, Set, undefined or class instances), or give the state schema a coercion.`,
          );
        }
        const rebuilt = aggregate.fold(history.slice(k), restoredJson.data as z.output<S>);
        if (!isDeepStrictEqual(rebuilt, full)) {
          throw failure('snapshot + tail differs from a full replay', where, `Rebuilt ${show(rebuilt)}, full replay ${show(full)}: the state schema drops or changes fields evolve relies on; declare every field of the state in its schema.`);
        }
      });
    }),
    { numRuns: 100, includeErrorInReport: true, ...options.parameters },
  );
  return report;
}
