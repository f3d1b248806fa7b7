// Child of the projections crash test: appends and projects until SIGKILL.
import { openLog } from '@strand/core';
import { ProjectionRunner } from '@strand/projections';
import { counting } from './counting.js';

const dir = process.argv[2]!;
const log = await openLog({ path: dir });
const runner = new ProjectionRunner(log, counting, { batchSize: 50, concurrency: 8 });
await runner.start();
process.stdout.write(`START ${runner.position}\n`);
let i = 0;
runner.processed$.subscribe(() => {});
for (;;) {
  const r = await log.append(`c/s-${i % 13}`, [{ type: 'Tick', data: i }, { type: 'Tick', data: i }]);
  i++;
  process.stdout.write(`ACK ${r.position} ${runner.position}\n`);
}
