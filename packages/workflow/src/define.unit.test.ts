import { defineAggregate } from '@strand/aggregate';
import { isStrandError } from '@strand/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { cancel, complete, defineWorkflow, schedule, send } from './define.js';

const Target = defineAggregate({
  name: 'target',
  stream: (id) => `t/${id}`,
  commands: { Ping: z.object({}) },
  events: { Pinged: z.object({}) },
  state: z.object({}),
  initialState: () => ({}),
  decide: { Ping: () => ({ type: 'Pinged', data: {} }) },
  evolve: { Pinged: (s) => s },
});

const base = {
  name: 'w',
  inputs: { Started: z.object({ id: z.string().min(1) }) },
  triggers: { 'src/>': ['Started'] as const },
  instanceOf: (e: { data: { id: string } }) => e.data.id,
  deadlines: { Later: z.object({ n: z.number() }) },
  state: z.object({}),
  initialState: () => ({}),
  evolve: <T>(s: T) => s,
};

describe('defineWorkflow', () => {
  it('routes matching events with parsed data, and nothing else', () => {
    const w = defineWorkflow({ ...base, decide: () => [] });
    expect(w.route({ stream: 'src/a', type: 'Started', data: { id: 'i-1' }, metadata: undefined })).toEqual({ instance: 'i-1', data: { id: 'i-1' } });
    expect(w.route({ stream: 'other/a', type: 'Started', data: { id: 'i-1' }, metadata: undefined })).toBeUndefined();
    expect(w.route({ stream: 'src/a', type: 'Other', data: {}, metadata: undefined })).toBeUndefined();
    expect(() => w.route({ stream: 'src/a', type: 'Started', data: { id: '' }, metadata: undefined })).toThrow(/input schema/);
    expect(w.streamOf('i-1')).toBe('workflows/w/i-1');
  });

  it('checks actions: declared deadlines with valid data, known kinds', () => {
    const run = (actions: unknown) => {
      const w = defineWorkflow({ ...base, decide: () => actions as never });
      return w.decide({ kind: 'event', type: 'Started', data: { id: 'x' }, source: { stream: 'src/a', version: 1, position: 1, id: 'e' } }, {}, { instance: 'x', now: 0 });
    };
    expect(run([send(Target, 'a', { type: 'Ping', data: {} }), schedule('Later', 5, { n: 1 }), cancel('Later'), complete()])).toHaveLength(4);
    expect(run(undefined)).toEqual([]);
    for (const bad of [[schedule('Nope', 5)], [schedule('Later', 5, { n: 'x' })], [cancel('Nope')], [{ kind: 'explode' }], [null]]) {
      const error = (() => {
        try {
          run(bad);
        } catch (e) {
          return e;
        }
      })();
      expect(isStrandError(error, 'STRAND_INVALID_WORKFLOW_ACTION'), JSON.stringify(bad)).toBe(true);
    }
  });

  it('refuses definitions that cannot work', () => {
    const decide = () => [];
    expect(() => defineWorkflow({ ...base, name: 'bad name', decide })).toThrow(/name/);
    expect(() => defineWorkflow({ ...base, triggers: { 'src/>': ['Nope' as never] }, decide })).toThrow(/not in inputs/);
    expect(() => defineWorkflow({ ...base, triggers: { 'workflows/>': ['Started'] }, decide })).toThrow(/workflow streams/);
    expect(() => defineWorkflow({ ...base, deadlines: { Started: z.object({}) }, decide } as never)).toThrow(/name of an input/);
    expect(() => defineWorkflow({ ...base, starts: ['Nope' as never], decide })).toThrow(/starts/);
  });
});
