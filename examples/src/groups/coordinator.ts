/**
 * Terminal 1 of the consumer-group example (README, "Consumer groups"): owns the log, serves the
 * group `billing` on a socket, appends orders, and prints parked streams.
 * Run: `node examples/dist/groups/coordinator.js ./data-groups`
 *
 * @module
 */
import { openLog } from '@strand/core';
import { ConsumerGroup, serveGroup } from '@strand/projections';

const log = await openLog({ path: process.argv[2] ?? './data-groups' });
const group = await ConsumerGroup.open(log, { name: 'billing', pattern: 'orders/>', maxAttempts: 3 });
await serveGroup([group], { port: 7070 }); // members: connectGroup({ port: 7070 }, 'billing', handler)

for (let i = 0; i < 1000; i++) {
  // Order 13 carries a poison event: its stream parks, every other order keeps flowing.
  await log.append(`orders/eu/o-${i % 100}`, [{ type: 'OrderPlaced', data: { total: i, poison: i === 13 } }]);
}
await group.drained();
console.log(group.status().members, group.parked()); // [{ stream: 'orders/eu/o-13', version: 1, error: 'poison', ... }]
