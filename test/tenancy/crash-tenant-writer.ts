/**
 * Child process of the tenancy crash test: appends through TenantClients of two tenants on one
 * LevelDB with durable writes, printing one JSON line per acknowledged append, until killed.
 *
 * Usage: node --import tsx --conditions strand-source crash-tenant-writer.ts <dir> <seed>
 */
import { type TenantClient, TenantManager } from '@strand/core/tenancy';
import { ClassicLevel } from 'classic-level';
import { seededInts } from '../support/child.js';

const [dir, seedArg] = process.argv.slice(2);
if (!dir || !seedArg) throw new Error('usage: crash-tenant-writer.ts <dir> <seed>');
// The load pattern replays from the seed (the kill moment does not, by nature).
const rand = seededInts(Number(seedArg));

const tenants = await TenantManager.open({ store: new ClassicLevel(dir, { keyEncoding: 'view', valueEncoding: 'view' }), ownsStore: true });
const names = ['t0', 't1'];
const clients: TenantClient[] = [];
for (const name of names) {
  if (tenants.get(name) === undefined) await tenants.createTenant(name);
  clients.push(tenants.authenticate((await tenants.createPrincipal(name, [{ permission: 'append', pattern: '>' }])).apiKey));
}
const out = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
out({ ready: true });
let n = 0;
await Promise.all(
  Array.from({ length: 12 }, async (_, w) => {
    for (;;) {
      const t = w % names.length;
      const id = `${process.pid}-${w}-${n++}`;
      const events = Array.from({ length: 1 + rand(3) }, (_, i) => ({ type: 'Tick', data: { w, i, pad: 'x'.repeat(rand(200)) }, metadata: { append: id } }));
      await clients[t]!.append(`s/${rand(50)}`, events);
      out({ tenant: names[t], append: id, events: events.length });
    }
  }),
);
