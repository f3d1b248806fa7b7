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

/** Options of {@link checkAggregate}. */
export interface CheckOptions<C extends SchemaMap, E extends SchemaMap, S> {
  /** Commands to try (default: derived from the command schemas). */
  commands?: fc.Arbitrary<Message<C>>;
  /** Invariants on the state after every accepted command: throw or return false to fail. */
  invariants?: Array<(state: S, history: readonly Message<E>[]) => boolean | void>;
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
  fc.assert(
    fc.property(fc.array(commands, { maxLength: options.maxCommands ?? 40 }), (sequence) => {
      let state = aggregate.definition.initialState();
      const history: Message<E>[] = [];
      const states: unknown[] = [clone(state)];
      sequence.forEach((raw, step) => {
        const ctx = { id: 'prop-1', now: 1_700_000_000_000 + step };
        const command = deepFreeze(aggregate.parseCommand(clone(raw)));
        deepFreeze(state);
        let events: Message<E>[];
        try {
          events = aggregate.decide(command, state, ctx);
        } catch (error) {
          if (isStrandError(error, 'STRAND_DOMAIN_REJECTED')) {
            report.refused++;
            return;
          }
          throw error;
        }
        const again = aggregate.decide(aggregate.parseCommand(clone(raw)), clone(state), ctx);
        if (!isDeepStrictEqual(again, events)) throw new Error(`decide is not deterministic for ${command.type} at step ${step}`);
        for (const e of events) {
          const viaJson = aggregate.parseEvent(e.type, JSON.parse(JSON.stringify(e.data)));
          if (!isDeepStrictEqual(viaJson, e)) throw new Error(`${e.type} does not survive a JSON round trip: ${JSON.stringify(e.data)}`);
          const ctxCodec = { stream: 'prop', type: e.type };
          const viaMsgpack = aggregate.parseEvent(e.type, msgpackCodec.decode(msgpackCodec.encode(e.data, ctxCodec), ctxCodec));
          if (!isDeepStrictEqual(viaMsgpack, e)) throw new Error(`${e.type} does not survive a msgpack round trip`);
          deepFreeze(e);
          const next = aggregate.evolve(state, e);
          const nextAgain = aggregate.evolve(clone(state), clone(e));
          if (!isDeepStrictEqual(next, nextAgain)) throw new Error(`evolve is not deterministic for ${e.type} at step ${step}`);
          state = next;
          history.push(e);
          states.push(clone(state));
          report.events++;
        }
        report.accepted++;
        for (const invariant of options.invariants ?? []) {
          if (invariant(state, history) === false) throw new Error(`invariant ${invariant.name || '(anonymous)'} broken after ${command.type} at step ${step}: ${JSON.stringify(state)}`);
        }
        const parsedFinal = stateSchema.safeParse(state);
        if (!parsedFinal.success) throw new Error(`state after step ${step} does not match the state schema: ${parsedFinal.error.message}`);
      });
      // Snapshot at every point k, then fold the tail: must equal the full replay.
      const full = aggregate.fold(history);
      states.forEach((snap, k) => {
        const restored = stateSchema.parse(JSON.parse(JSON.stringify(snap))) as z.output<S>;
        const rebuilt = aggregate.fold(history.slice(k), restored);
        if (!isDeepStrictEqual(rebuilt, full)) throw new Error(`snapshot at event ${k} + tail gives ${JSON.stringify(rebuilt)}, full replay gives ${JSON.stringify(full)}`);
      });
    }),
    { numRuns: 100, includeErrorInReport: true, ...options.parameters },
  );
  return report;
}
