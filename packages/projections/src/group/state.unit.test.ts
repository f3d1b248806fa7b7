import type { RecordedEvent } from '@strand/core';
import { describe, expect, it } from 'vitest';
import { StaleLeaseError } from './errors.js';
import { GroupState } from './state.js';
import { defaultTuning } from './tuning.js';

const event = (stream: string, version: number, position: number): RecordedEvent => ({ stream, version, position, type: 'T', id: `${position}`, timestamp: 0, data: null, metadata: undefined, schemaVersion: undefined });

describe('GroupState epochs', () => {
  // The simulation never reuses a member id (the coordinator does not either), so there the member
  // check alone refuses a zombie's ack; the epoch is what refuses it when the same id holds the
  // stream again, at the same version, under a newer lease.
  it("refuses an ack of an old delivery from a member id that holds the stream again at the same version, and accepts the new delivery's", () => {
    const state = new GroupState('g', { ...defaultTuning, backoffMs: 0 }, { watermark: 0, incarnation: 1, streams: new Map() });
    state.join('m', 1, 0);
    state.onEvent(event('s', 1, 1));
    const [first] = state.pump(0);
    expect(first?.delivery).toMatchObject({ stream: 's', attempt: 1 });
    state.expire('m', 1);
    state.join('m', 1, 2);
    const [second] = state.pump(2);
    expect(second?.delivery).toMatchObject({ stream: 's', attempt: 2 });
    expect(second!.delivery.events[0]!.version).toBe(1);
    expect(second!.delivery.epoch).toBeGreaterThan(first!.delivery.epoch);
    expect(() => state.ack('m', { stream: 's', epoch: first!.delivery.epoch, version: 1 }, 3)).toThrow(StaleLeaseError);
    state.ack('m', { stream: 's', epoch: second!.delivery.epoch, version: 1 }, 4);
    expect(state.inspect('s')).toBeUndefined();
  });
});
