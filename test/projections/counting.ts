// The counting projection shared by the projections crash test and its child process.
import { defineProjection } from '@strand/projections';

export const counting = defineProjection({
  name: 'counting',
  patterns: ['c/>'],
  handlers: {
    // Stream c/s-0 is slow (simulated I/O), so other streams commit ahead of it and a crash
    // leaves applied events above the checkpoint: the case exactly-once has to get right.
    Tick: async (e, tx) => {
      if (e.stream === 'c/s-0') await new Promise((resolve) => setTimeout(resolve, 3));
      await tx.update<{ n: number; last: number }>('streams', e.stream, (d) => {
        if ((d?.last ?? 0) + 1 !== e.version) throw new Error(`${e.stream}: applied ${d?.last ?? 0}, now ${e.version}`);
        return { n: (d?.n ?? 0) + 1, last: e.version };
      });
    },
  },
});
