/**
 * Workflow figures (issue 20): end-to-end workflow steps (one event -> a decision -> a command on
 * another aggregate, all durable, one atomic append per step) beside two plain appends per step,
 * and units of work under contention (40 writers on 14 aggregates) beside single-aggregate
 * commands under the same contention.
 *
 * @module
 */
import { AggregateRepository, defineAggregate, UnitOfWork } from '@strand/aggregate';
import { openLog } from '@strand/core';
import { complete, defineWorkflow, send, WorkflowRunner } from '@strand/workflow';
import { z } from 'zod';
import { seededInts } from '../support/child.js';
import { type BenchContext, type BenchSection, type Figure, median, timeMs } from './figure.js';

const Target = defineAggregate({
  name: 'target',
  stream: (id) => `tgt/${id}`,
  commands: { Ack: z.object({ from: z.string() }), Add: z.object({ n: z.number().int() }) },
  events: { Acked: z.object({ from: z.string() }), Added: z.object({ n: z.number().int() }) },
  state: z.object({ acks: z.number().int(), total: z.number().int() }),
  initialState: () => ({ acks: 0, total: 0 }),
  decide: { Ack: (c) => ({ type: 'Acked', data: c }), Add: (c) => ({ type: 'Added', data: c }) },
  evolve: { Acked: (s) => ({ ...s, acks: s.acks + 1 }), Added: (s, e) => ({ ...s, total: s.total + e.n }) },
});

const Relay = defineWorkflow({
  name: 'relay',
  inputs: { Pinged: z.object({ n: z.number().int() }) },
  triggers: { 'src/>': ['Pinged'] },
  instanceOf: (e) => e.stream.slice('src/'.length),
  state: z.object({ pings: z.number().int() }),
  initialState: () => ({ pings: 0 }),
  decide: (_input, _state, { instance }) => [send(Target, instance, { type: 'Ack', data: { from: instance } }), complete()],
  evolve: (s) => ({ pings: s.pings + 1 }),
});

async function steps(ctx: BenchContext): Promise<Figure[]> {
  const n = Math.max(500, Math.round(4_000 * ctx.scale));
  const rates: number[] = [];
  const refs: number[] = [];
  for (let r = 0; r < ctx.runs; r++) {
    const log = await openLog({ path: await ctx.tmpdir('wf-steps') });
    const targets = new AggregateRepository(log, Target);
    const runner = new WorkflowRunner(log, Relay, { repositories: [targets], concurrency: 16, timers: false });
    await runner.start();
    // Live: events arrive 16 at a time while the runner reacts; timed until every step is committed.
    let next = 0;
    const ms = await timeMs(async () => {
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let i = next++; i < n; i = next++) await log.append(`src/i-${i}`, [{ type: 'Pinged', data: { n: i } }]);
        }),
      );
      await runner.settle(120_000);
    });
    if (runner.stats.steps !== n) throw new Error(`expected ${n} steps, got ${runner.stats.steps}`);
    rates.push((n / ms) * 1000);
    await runner.close();
    await targets.close();
    // Reference: two plain appends per step (the trigger's, and one for what the step writes), 16 in flight.
    let k = 0;
    const refMs = await timeMs(() =>
      Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let i = k++; i < n; i = k++) {
            await log.append(`rsrc/i-${i}`, [{ type: 'Pinged', data: { n: i } }]);
            await log.append(`rtgt/i-${i}`, [{ type: 'Acked', data: { from: `i-${i}` } }]);
          }
        }),
      ),
    );
    refs.push((n / refMs) * 1000);
    await log.close();
  }
  return [
    {
      id: 'workflow.steps_per_s',
      value: median(rates),
      unit: 'steps/s',
      reference: { name: 'two plain appends per step (trigger + one), same concurrency', value: median(refs) },
      note: `${n} events -> workflow decision -> command on another aggregate, live, durable, 16 in flight`,
    },
  ];
}

async function contention(ctx: BenchContext): Promise<Figure[]> {
  const total = Math.max(1_000, Math.round(6_000 * ctx.scale));
  const uowRates: number[] = [];
  const handleRates: number[] = [];
  for (let r = 0; r < ctx.runs; r++) {
    const log = await openLog({ path: await ctx.tmpdir('wf-uow') });
    const targets = new AggregateRepository(log, Target, { maxRetries: 100 });
    const uow = new UnitOfWork(log, { maxRetries: 200 });
    const pick = seededInts(r + 1);
    let next = 0;
    // 40 writers; each unit adds to two of 14 aggregates (a transfer's shape) in one atomic append.
    const ms = await timeMs(() =>
      Promise.all(
        Array.from({ length: 40 }, async () => {
          for (let i = next++; i < total; i = next++) {
            const a = pick(14);
            const b = (a + 1 + pick(13)) % 14;
            await uow.run(async (tx) => {
              await tx.handle(targets, `item-${a}`, { type: 'Add', data: { n: 1 } });
              await tx.handle(targets, `item-${b}`, { type: 'Add', data: { n: -1 } });
            });
          }
        }),
      ),
    );
    uowRates.push((total / ms) * 1000);
    let k = 0;
    const handleMs = await timeMs(() =>
      Promise.all(
        Array.from({ length: 40 }, async () => {
          for (let i = k++; i < total; i = k++) await targets.handle(`solo-${pick(14)}`, { type: 'Add', data: { n: 1 } });
        }),
      ),
    );
    handleRates.push((total / handleMs) * 1000);
    uow.close();
    await targets.close();
    await log.close();
  }
  return [
    {
      id: 'uow.commands_per_s',
      value: median(uowRates),
      unit: 'units/s',
      reference: { name: 'aggregate.commands_per_s under the same contention (single-aggregate handle, 40 writers on 14 aggregates)', value: median(handleRates) },
      note: `${total} units of work (two aggregates each, one atomic append), 40 writers on 14 aggregates, durable`,
    },
  ];
}

/** The workflow section. */
export const workflow: BenchSection = {
  name: 'workflow',
  async run(ctx) {
    return [...(await steps(ctx)), ...(await contention(ctx))];
  },
};
