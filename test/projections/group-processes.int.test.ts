import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openLog } from '@strand/core';
import { ConsumerGroup, serveGroup } from '@strand/projections';
import { describe, expect, it } from 'vitest';

// Several member processes share one group over a Unix socket; one is SIGKILLed while it has
// deliveries in flight. Every stream must still complete, in order, each effect exactly once.
const child = fileURLToPath(new URL('./group-member-child.ts', import.meta.url));

function startMember(path: string, label: string, onLine: (line: string) => void): { proc: ChildProcess; ready: Promise<void> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--conditions', 'strand-source', child, path, label], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.startsWith('READY')) resolve();
      onLine(line);
    });
    proc.on('exit', (code, signal) => reject(new Error(`member ${label} exited (${code ?? signal}) before it was ready:\n${stderr}`)));
  });
  return { proc, ready };
}

describe('consumer group across processes', () => {
  it('completes every stream in order, exactly once, when a member is SIGKILLed mid-batch', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strand-group-proc-'));
    const log = await openLog({ path: dir });
    const group = await ConsumerGroup.open(log, { name: 'work', pattern: 'w/>', sessionTimeoutMs: 2000 });
    const server = await serveGroup([group], { path: join(dir, 'group.sock') });
    const path = (server.address as { path: string }).path;
    const streams = 30;
    const perStream = 12;
    const members: ChildProcess[] = [];
    try {
      let killedAt = -1;
      const got = new Map<string, number>();
      const victim = startMember(path, 'victim', (line) => {
        if (!line.startsWith('GOT')) return;
        got.set('victim', (got.get('victim') ?? 0) + 1);
        // Killed with deliveries in flight (its handler is mid-timer, more are queued).
        if (got.get('victim') === 25) {
          killedAt = group.status().watermark;
          victim.proc.kill('SIGKILL');
        }
      });
      const others = [startMember(path, 'a', () => {}), startMember(path, 'b', () => {})];
      members.push(victim.proc, ...others.map((o) => o.proc));
      await Promise.all([victim.ready, ...others.map((o) => o.ready)]);
      for (let i = 0; i < perStream; i++) {
        await log.appendMulti(Array.from({ length: streams }, (_, s) => ({ stream: `w/${s}`, events: [{ type: 'Work', data: i }] })));
      }
      await group.drained();
      expect(killedAt, 'the victim was killed while the group was working').toBeGreaterThan(-1);
      expect(group.parked()).toEqual([]);
      const by = new Set<string>();
      for (let s = 0; s < streams; s++) {
        const versions: number[] = [];
        for await (const e of log.readStream(`out/${s}`)) {
          const { v, by: who } = e.data as { v: number; by: string };
          versions.push(v);
          by.add(who);
        }
        expect(versions, `effects of w/${s}`).toEqual(Array.from({ length: perStream }, (_, i) => i + 1));
      }
      expect(by.has('a') && by.has('b')).toBe(true);
    } finally {
      for (const m of members) m.kill('SIGKILL');
      await server.close();
      await group.close();
      await log.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
