/**
 * `strand tenants`: the tenants of a multi-tenant LevelDB store (list, create, suspend, resume,
 * delete, usage, metrics; docs/design/0008-tenancy.md).
 *
 * @module
 */
import { type TenantInfo, TenantManager, type TenantQuotas } from '@strand/core/tenancy';
import { ClassicLevel } from 'classic-level';
import type { Command } from 'commander';
import { type Cli, isS3 } from '../context.js';
import { ExitCode, type Output, output } from '../output.js';

async function withTenants<T>(cli: Cli, fn: (m: TenantManager, out: Output) => Promise<T>): Promise<T> {
  const { path, json } = cli.globals();
  const out = output(json);
  if (isS3(path)) out.fail(ExitCode.usage, 'STRAND_INVALID_ARGUMENT', 'strand tenants works on a LevelDB path; open S3 tenants from code with TenantManager.open({ store: new S3Level(...) }).');
  const store = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
  const manager = await TenantManager.open({ store, ownsStore: true });
  try {
    return await fn(manager, out);
  } finally {
    await manager.close();
  }
}

const tenantRow = (t: TenantInfo) => ({ name: t.name, status: t.status, created: new Date(t.created).toISOString(), quotas: JSON.stringify(t.quotas) });

/** Registers `strand tenants` and its subcommands. */
export function registerTenantCommands(program: Command, cli: Cli): void {
  const tenants = program
    .command('tenants')
    .description('manage tenants of a multi-tenant store: list, create, suspend, resume, delete, usage, metrics')
    .addHelpText('after', `
Examples:
  strand tenants                      list tenants
  strand tenants create acme --max-streams 100000
  strand tenants usage acme --json
  strand tenants metrics              Prometheus text for every tenant`);

  tenants.command('list', { isDefault: true }).description('list tenants').action(() => withTenants(cli, async (m, out) => out.table(m.list().map(tenantRow), ['name', 'status', 'created', 'quotas'])));

  tenants
    .command('create <name>')
    .description('create a tenant (one metadata write)')
    .option('--max-streams <n>', 'stream quota')
    .option('--max-storage-bytes <n>', 'storage quota')
    .option('--events-per-sec <n>', 'append rate quota')
    .action((name: string, opts: { maxStreams?: string; maxStorageBytes?: string; eventsPerSec?: string }) =>
      withTenants(cli, async (m, out) => {
        const quotas: TenantQuotas = {};
        if (opts.maxStreams) quotas.streams = Number(opts.maxStreams);
        if (opts.maxStorageBytes) quotas.storageBytes = Number(opts.maxStorageBytes);
        if (opts.eventsPerSec) quotas.appendEventsPerSecond = Number(opts.eventsPerSec);
        out.object(tenantRow(await m.createTenant(name, { quotas })));
      }),
    );

  for (const [verb, describe] of [
    ['suspend', 'refuse every data operation of a tenant until resumed'],
    ['resume', 'resume a suspended tenant'],
    ['delete', 'delete a tenant and all of its data (reclaimed by compaction)'],
  ] as const) {
    tenants
      .command(`${verb} <name>`)
      .description(describe)
      .action((name: string) =>
        withTenants(cli, async (m, out) => {
          if (verb === 'suspend') await m.suspend(name);
          else if (verb === 'resume') await m.resume(name);
          else await m.deleteTenant(name);
          out.object({ name, done: verb });
        }),
      );
  }

  tenants
    .command('usage <name>')
    .description("a tenant's metered usage: events and bytes appended and read, streams, storage")
    .action((name: string) => withTenants(cli, async (m, out) => out.object({ name, ...(await m.usage(name)) })));

  tenants
    .command('metrics')
    .description('every tenant\'s counters in Prometheus text format')
    .action(() =>
      withTenants(cli, async (m) => {
        process.stdout.write(await m.metrics());
      }),
    );
}
