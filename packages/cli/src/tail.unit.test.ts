import { type EventLog, openLog } from '@strand/core';
import { describe, expect, it } from 'vitest';
import { tail } from './tail.js';

// Issue 21 item 23: on S3, `strand tail` follows one follower instead of reopening (a LIST) per poll.
describe('tail', () => {
  it('follows one open log when it need not reopen (S3), and from the end', async () => {
    const log = await openLog({ memory: true });
    await log.append('orders/old', [{ type: 'Placed', data: 0 }]);
    let opens = 0;
    let polls = 0;
    const seen: number[] = [];
    // A log that `close()` does not close: the test keeps appending to it between polls.
    const shared = Object.create(log, { close: { value: async () => {} } }) as EventLog;
    const printed = await tail({
      open: async () => {
        opens++;
        return shared;
      },
      reopen: false,
      pattern: 'orders/>',
      from: 'end',
      count: 3,
      intervalMs: 1,
      onEvent: (e) => seen.push(e.data as number),
      stopped: () => false,
      sleep: async () => {
        polls++;
        await log.append('orders/new', [{ type: 'Placed', data: polls }]);
      },
    });
    expect(printed).toBe(3);
    expect(seen).toEqual([1, 2, 3]);
    expect(polls).toBeGreaterThanOrEqual(3);
    expect(opens).toBe(1);
    await log.close();
  });

  it('reopens for every poll when the store allows one process at a time (LevelDB)', async () => {
    const log = await openLog({ memory: true });
    let opens = 0;
    const shared = Object.create(log, { close: { value: async () => {} } }) as EventLog;
    await tail({
      open: async () => {
        opens++;
        return shared;
      },
      reopen: true,
      pattern: '>',
      from: 1,
      count: 2,
      intervalMs: 1,
      onEvent: () => {},
      stopped: () => false,
      sleep: async () => {
        await log.append('a/b', [{ type: 'T', data: 1 }]);
      },
    });
    expect(opens).toBeGreaterThanOrEqual(2);
    await log.close();
  });
});
