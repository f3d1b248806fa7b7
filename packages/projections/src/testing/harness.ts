/**
 * Specs and properties for projections. Both run the projection for real on an in-memory log:
 * the property runs it inline and asynchronously (with a restart in the middle) and checks the
 * two read models agree, besides the user's invariants.
 *
 * @module
 */
import { isDeepStrictEqual } from 'node:util';
import { type EventLog, openLog } from '@strand/core';
import fc from 'fast-check';
import { attachInline } from '../inline.js';
import type { CompiledProjection } from '../projection.js';
import type { ReadModelView } from '../read-model.js';
import { ProjectionRunner } from '../runner.js';

/** An event to append in a spec or property. */
export interface GivenEvent {
  /** Its stream. */
  stream: string;
  /** Its type. */
  type: string;
  /** Its data. */
  data: unknown;
}

/** A given/when/then spec for one projection. */
export interface ProjectionSpec {
  /** Appends these events (in order), runs the projection, then hands its read model to `thenView`. */
  given(events: readonly GivenEvent[]): { thenView(check: (view: ReadModelView) => void | Promise<void>): Promise<void> };
}

async function appendAll(log: EventLog, events: readonly GivenEvent[]): Promise<void> {
  for (const e of events) await log.append(e.stream, [{ type: e.type, data: e.data }]);
}

/**
 * Starts a spec: the projection runs asynchronously on an in-memory log, caught up before `thenView`.
 *
 * @example
 * ```ts
 * await projectionScenario(ordersByCustomer)
 *   .given([{ stream: 'orders/1', type: 'OrderPlaced', data: { customer: 'ada', total: 5 } }])
 *   .thenView(async (view) => expect(await view.query('byCustomer', 'ada')).toHaveLength(1));
 * ```
 */
export function projectionScenario(projection: CompiledProjection): ProjectionSpec {
  return {
    given(events) {
      return {
        async thenView(check) {
          const log = await openLog({ memory: true });
          const runner = new ProjectionRunner(log, projection, { attempts: 1 });
          try {
            await runner.start();
            await appendAll(log, events);
            await runner.waitFor(log.position);
            const parked = runner.parked();
            if (parked.length > 0) throw new Error(`stream ${parked[0]!.stream} parked at version ${parked[0]!.version}: ${parked[0]!.error}`);
            await check(runner.view());
          } finally {
            await runner.stop();
            await log.close();
          }
        },
      };
    },
  };
}

/** Options of {@link checkProjection}. */
export interface CheckProjectionOptions {
  /** Event sequences to try (streams, types and data). */
  events: fc.Arbitrary<GivenEvent[]>;
  /** Invariants on the read model after the sequence: throw or return false to fail. */
  invariants?: Array<(view: ReadModelView, events: readonly GivenEvent[]) => boolean | void | Promise<boolean | void>>;
  /** Collections (and index values) compared between the inline and the asynchronous read model. */
  compare?: { collections?: readonly string[]; indexes?: Readonly<Record<string, readonly string[]>> };
  /** fast-check parameters (numRuns, seed, path). Default 25 runs. */
  parameters?: { numRuns?: number; seed?: number; path?: string; verbose?: boolean };
}

/**
 * Runs random event sequences through the projection, inline and asynchronously (the runner is
 * stopped and restarted halfway, so checkpoints are exercised), and checks the user's
 * invariants on both read models and that they agree on the compared collections and index
 * values. No stream may park. Fails with fast-check's report (seed, path, shrunk sequence).
 */
export async function checkProjection(projection: CompiledProjection, options: CheckProjectionOptions): Promise<void> {
  await fc.assert(
    fc.asyncProperty(options.events, async (events) => {
      const log = await openLog({ memory: true });
      const inline = attachInline(log, projection);
      // A restart halfway: the first runner stops, a new one resumes from its checkpoint.
      const first = new ProjectionRunner(log, projection, { attempts: 1 });
      let runner = first;
      try {
        await first.start();
        const half = Math.floor(events.length / 2);
        await appendAll(log, events.slice(0, half));
        await first.stop();
        runner = new ProjectionRunner(log, projection, { attempts: 1 });
        await runner.start();
        await appendAll(log, events.slice(half));
        await runner.waitFor(log.position);
        const parked = runner.parked();
        if (parked.length > 0) throw new Error(`stream ${parked[0]!.stream} parked: ${parked[0]!.error}`);
        for (const view of [inline.view(), runner.view()]) {
          for (const invariant of options.invariants ?? []) {
            if ((await invariant(view, events)) === false) throw new Error(`invariant ${invariant.name || '(anonymous)'} broken`);
          }
        }
        for (const c of options.compare?.collections ?? []) {
          const [a, b] = [await inline.view().list(c), await runner.view().list(c)];
          if (!isDeepStrictEqual(a, b)) throw new Error(`inline and asynchronous read models differ in ${c}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
        }
        for (const [index, values] of Object.entries(options.compare?.indexes ?? {})) {
          for (const v of values) {
            const [a, b] = [await inline.view().query(index, v), await runner.view().query(index, v)];
            if (!isDeepStrictEqual(a, b)) throw new Error(`index ${index}=${v} differs: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
          }
        }
      } finally {
        inline.detach();
        await runner.stop();
        await log.close();
      }
    }),
    { numRuns: 25, includeErrorInReport: true, ...options.parameters },
  );
}
