/**
 * Child process of the Iceberg sink crash test: appends events to a LevelDB log while an
 * IcebergSink exports them continuously, printing one JSON line per append (`{ appended }`) and
 * per table commit (`{ commit }`), until it is killed.
 *
 * Usage: node --import tsx --conditions strand-source sink-crash-child.ts <logDir> <tableDir> <seed>
 */
import { openLog, SchemaRegistry } from '@strand/core';
import { IcebergSink } from '@strand/iceberg';
import { z } from 'zod';
import { seededInts } from '../support/child.js';

const [logDir, tableDir, seedArg] = process.argv.slice(2);
if (!logDir || !tableDir || !seedArg) throw new Error('usage: sink-crash-child.ts <logDir> <tableDir> <seed>');
const rand = seededInts(Number(seedArg));
const out = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

const log = await openLog({ path: logDir });
const registry = await SchemaRegistry.open(log);
await registry.register('Tick', 1, z.object({ n: z.number().int(), label: z.string(), pad: z.string() }));
const sink = new IcebergSink(registry, {
  types: ['Tick'],
  table: tableDir,
  commitEvery: 5 + rand(40),
  commitIntervalMs: 5 + rand(30),
  onCommit: (c) => out({ commit: c.position, rows: c.rows }),
});
await sink.start();
out({ ready: true, position: log.position });
for (let i = 0; ; i++) {
  const n = 1 + rand(8);
  const events = Array.from({ length: n }, (_, k) => ({ type: rand(5) === 0 ? 'Other' : 'Tick', data: { n: i * 100 + k, label: `l${rand(1000)}`, pad: 'x'.repeat(rand(200)) } }));
  const r = await log.append(`ticks/s-${rand(30)}`, events);
  out({ appended: r.position });
}
