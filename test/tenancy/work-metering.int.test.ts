import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AggregateRepository } from '@strand/aggregate';
import { TenantManager } from '@strand/core/tenancy';
import { confirmProjections, defineProjection, ProjectionRunner } from '@strand/projections';
import { ClassicLevel } from 'classic-level';
import { afterAll, describe, expect, it } from 'vitest';
import { Account } from '../../packages/aggregate/src/account.fixture.js';

// Snapshot and projection work on a tenant's log is metered per tenant, survives a restart, and
// shows in the Prometheus text; a neighbour tenant's counters stay at zero.

const root = mkdtempSync(join(tmpdir(), 'strand-work-meter-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const open = () => TenantManager.open({ store: new ClassicLevel<Uint8Array, Uint8Array>(join(root, 'db'), { keyEncoding: 'view', valueEncoding: 'view' }), ownsStore: true });

describe('metering of snapshot and projection work', () => {
  it('counts snapshots written and events committed by projections, per tenant, durably', async () => {
    const tenants = await open();
    await tenants.createTenant('acme');
    await tenants.createTenant('other');
    const { log } = await tenants.tenant('acme');
    const balances = defineProjection({
      name: 'balances',
      patterns: ['accounts/>'],
      handlers: { Deposited: (e, tx) => tx.update<number>('b', e.stream, (d) => (d ?? 0) + (e.data as { amount: number }).amount) },
    });
    const runner = new ProjectionRunner(log, balances);
    await runner.start();
    const accounts = new AggregateRepository(log, Account);
    const confirm = { afterCommit: confirmProjections([runner]) };
    await accounts.handle('a-1', { type: 'Open', data: { owner: 'ann' } }, confirm);
    for (let i = 1; i <= 6; i++) await accounts.handle('a-1', { type: 'Deposit', data: { amount: i } }, confirm);
    await accounts.snapshot('a-1');
    await accounts.handle('a-1', { type: 'Deposit', data: { amount: 7 } }, confirm);
    await accounts.snapshot('a-1');
    const state = (await accounts.storedSnapshot('a-1'))?.state;
    await runner.stop();
    await accounts.close();

    const usage = await tenants.usage('acme');
    expect(usage.snapshotsWritten).toBe(2);
    expect(usage.snapshotBytes).toBeGreaterThanOrEqual(JSON.stringify(state).length);
    // Every event of the stream was committed by the projection (Open included: no handler, no count).
    expect(usage.projectionEvents).toBe(7);
    expect((await tenants.usage('other')).snapshotsWritten).toBe(0);
    const text = await tenants.metrics();
    expect(text).toContain('strand_tenant_snapshots_written_total{tenant="acme"} 2');
    expect(text).toContain('strand_tenant_projection_events_total{tenant="acme"} 7');
    expect(text).toContain('strand_tenant_snapshots_written_total{tenant="other"} 0');
    await tenants.close();

    const again = await open();
    const after = await again.usage('acme');
    expect([after.snapshotsWritten, after.projectionEvents, after.snapshotBytes]).toEqual([2, 7, usage.snapshotBytes]);
    await again.close();
  });
});
