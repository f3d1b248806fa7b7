import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventBytes, TenantManager } from '@strand/core/tenancy';
import { ClassicLevel } from 'classic-level';
import { afterAll, describe, expect, it } from 'vitest';
import { runUntilAcked } from '../support/child.js';

// SIGKILL a process appending through two tenants' clients; after each restart the durable
// append counters equal exactly what the tenants' logs hold (they commit in the same batch), and
// every acknowledged append is there.

const writer = join(dirname(fileURLToPath(import.meta.url)), 'crash-tenant-writer.ts');
const root = mkdtempSync(join(tmpdir(), 'strand-tenancy-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Ack {
  tenant: string;
  append: string;
  events: number;
}

describe('tenancy under SIGKILL (real child process, real LevelDB)', () => {
  it('keeps append counters exactly equal to the committed events across kills', async () => {
    const dir = join(root, 'db');
    const acked: Ack[] = [];
    for (const [round, killAfter] of [150, 40, 300].entries()) {
      acked.push(...(await runUntilAcked<Ack>(writer, [dir, String(11 + round)], killAfter)));
      const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
      const tenants = await TenantManager.open({ store: db, ownsStore: true });
      for (const name of ['t0', 't1']) {
        const log = (await tenants.tenant(name)).log;
        const appends = new Set<string>();
        let events = 0;
        let bytes = 0;
        for await (const e of log.readAll()) {
          appends.add((e.metadata as { append: string }).append);
          events++;
          bytes += eventBytes(e);
        }
        const u = await tenants.usage(name);
        expect({ appends: u.appends, events: u.eventsAppended, bytes: u.bytesAppended, streams: u.streams }).toEqual({ appends: appends.size, events, bytes, streams: await log.countStreams() });
        for (const a of acked) if (a.tenant === name) expect(appends.has(a.append)).toBe(true);
      }
      await tenants.close();
    }
  });
});
