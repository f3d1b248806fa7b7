/**
 * Terminals 2 and 3 of the consumer-group example: a member of the group `billing`, served by
 * `coordinator.ts`. Start as many as you like, stop or kill any of them: each order stream is
 * handled by one member at a time, in order.
 * Run: `node examples/dist/groups/member.js`
 *
 * @module
 */
import { connectGroup } from '@strand/projections';

const member = await connectGroup(
  { port: 7070 },
  'billing',
  async (delivery) => {
    const order = delivery.events[0]!;
    const data = order.data as { total: number; poison?: boolean };
    if (data.poison) throw new Error('poison'); // nacked; parked after 3 attempts
    console.log(delivery.stream, order.version, `(epoch ${delivery.epoch})`);
    // Returning { appends } commits them with the ack in one commit: exactly-once effects.
    return { appends: [{ stream: `invoices/${delivery.stream}`, events: [{ type: 'Invoiced', data: { total: data.total } }] }] };
  },
  { credits: 16 },
);
await member.closed;
