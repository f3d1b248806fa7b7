/**
 * Projections hosted by the server, administered through the client: status, lag, parked
 * streams, retry, skip and a blue/green rebuild; `waitFor` on appends (read-your-writes across
 * the network) served by them; `read` to look, `admin` to change.
 */
import { connect } from '@strand/client';
import { EventLog, isStrandError } from '@strand/core';
import { errorCode } from '@strand/core/testing';
import { TenantManager } from '@strand/core/tenancy';
import { defineProjection, ProjectionRunner } from '@strand/projections';
import { createServer } from '@strand/server';
import { MemoryLevel } from 'memory-level';
import { afterEach, describe, expect, it } from 'vitest';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

let broken = true;
const fragile = defineProjection({
  name: 'fragile',
  patterns: ['acc/>'],
  handlers: {
    T: (e, tx) => {
      if (e.stream === 'acc/bad' && broken && e.data !== 'fine') throw new Error('boom');
      return tx.update<number>('n', e.stream, (d) => (d ?? 0) + 1);
    },
  },
});

async function hosted() {
  const log = await EventLog.open({ store: new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' }), ownsStore: true });
  const runner = new ProjectionRunner(log, fragile, { attempts: 1 });
  await runner.start();
  const server = createServer({ log, projections: [runner] });
  const url = await server.listen();
  const client = connect({ url, apiKey: server.apiKey! });
  closers.push(async () => {
    await client.close();
    await server.close();
    await runner.stop();
    await log.close();
  });
  return { log, runner, client, url, server };
}

describe('hosted projections through the client', () => {
  it('report status and parked streams, retry, skip, and rebuild', async () => {
    broken = true;
    const { log, runner, client } = await hosted();
    const projections = client.projections();
    await client.append('acc/bad', [{ type: 'T', data: 1 }]);
    const last = await client.append('acc/good', [{ type: 'T', data: 1 }], { waitFor: ['fragile'] });
    // Read-your-writes: the append returned after the hosted projection applied it.
    expect(await runner.view().get('n', 'acc/good')).toBe(1);
    const st = await projections.status('fragile');
    expect([st.name, st.position, st.head, st.lagEvents]).toEqual(['fragile', last.position, last.position, 0]);
    expect(st.parked.map((p) => [p.stream, p.version, p.error])).toEqual([['acc/bad', 1, 'boom']]);
    expect((await projections.list()).map((p) => p.name)).toEqual(['fragile']);
    expect(await projections.retry('fragile', 'acc/bad')).toBe(false);
    expect(await projections.retry('fragile', 'acc/nothing')).toBe(false);
    expect(await projections.skip('fragile', 'acc/bad')).toBe(true);
    expect((await projections.status('fragile')).parked).toEqual([]);
    await log.append('acc/bad', [{ type: 'T', data: 2 }]);
    broken = false;
    const seen: number[] = [];
    const rebuilt = await projections.rebuild('fragile', (p) => seen.push(p.position));
    expect(rebuilt.generation).toBe(st.generation + 1);
    expect(rebuilt.position).toBe(log.position);
    // The rebuild replayed acc/bad from the start with a handler that no longer fails.
    expect(await runner.view().get('n', 'acc/bad')).toBe(2);
    expect(await errorCode(projections.status('nope'))).toBe('STRAND_PROJECTION_NOT_FOUND');
    expect(await errorCode(client.append('acc/x', [{ type: 'T', data: 1 }], { waitFor: ['nope'] }))).toBe('STRAND_PROJECTION_NOT_FOUND');
  });

  it('times out a waitFor with a typed error when the projection cannot apply the append', async () => {
    broken = true;
    const { client } = await hosted();
    const e = await client.append('acc/bad', [{ type: 'T', data: 1 }], { waitFor: ['fragile'], waitTimeoutMs: 300 }).catch((x: unknown) => x);
    expect(isStrandError(e)).toBe(true);
    expect((e as { code: string }).code).toMatch(/STRAND_PROJECTION_(PARKED|TIMEOUT)/);
  });

  it('needs admin to retry, skip or rebuild, and read to look; tenants see only their own', async () => {
    const tenants = await TenantManager.open({ store: new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' }), ownsStore: true });
    await tenants.createTenant('acme');
    await tenants.createTenant('globex');
    const log = (await tenants.tenant('acme')).log;
    const runner = new ProjectionRunner(log, fragile, { attempts: 1 });
    await runner.start();
    const server = createServer({ tenants, projections: (tenant) => (tenant === 'acme' ? [runner] : undefined) });
    const url = await server.listen();
    const reader = connect({ url, apiKey: (await tenants.createPrincipal('acme', [{ permission: 'read', pattern: '>' }])).apiKey });
    const appender = connect({ url, apiKey: (await tenants.createPrincipal('acme', [{ permission: 'append', pattern: '>' }])).apiKey });
    const other = connect({ url, apiKey: (await tenants.createPrincipal('globex', [{ permission: 'read', pattern: '>' }, { permission: 'admin', pattern: '>' }])).apiKey });
    closers.push(async () => {
      for (const c of [reader, appender, other]) await c.close();
      await server.close();
      await runner.stop();
      await tenants.close();
    });
    expect((await reader.projections().list()).map((p) => p.name)).toEqual(['fragile']);
    expect(await errorCode(reader.projections().retry('fragile', 'acc/bad'))).toBe('STRAND_ACCESS_DENIED');
    expect(await errorCode(reader.projections().skip('fragile', 'acc/bad'))).toBe('STRAND_ACCESS_DENIED');
    expect(await errorCode(reader.projections().rebuild('fragile'))).toBe('STRAND_ACCESS_DENIED');
    expect(await errorCode(appender.projections().list())).toBe('STRAND_ACCESS_DENIED');
    expect(await other.projections().list()).toEqual([]);
    expect(await errorCode(other.projections().status('fragile'))).toBe('STRAND_PROJECTION_NOT_FOUND');
    expect(await errorCode(other.projections().rebuild('fragile'))).toBe('STRAND_PROJECTION_NOT_FOUND');
  });
});
