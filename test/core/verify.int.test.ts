import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLog } from '@strand/core';
import { ClassicLevel } from 'classic-level';
import { describe, expect, it } from 'vitest';

// verify() must notice real damage: a stream-index entry deleted behind the log's back.
describe('verify on a damaged store', () => {
  it('reports a missing stream index entry and a version gap', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strand-verify-'));
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      const log = await EventLog.open({ store: db });
      await log.append('d/a', [1, 2, 3].map((n) => ({ type: 'T', data: n })));
      expect((await log.verify()).problems).toEqual([]);
      // Stream key of d/a version 2: 0x30 'd' 0x01 'a' 0x00 u64(2).
      const key = Uint8Array.of(0x30, 0x64, 0x01, 0x61, 0x00, 0, 0, 0, 0, 0, 0, 0, 2);
      expect(await db.get(key)).toBeDefined();
      await db.del(key);
      const report = await log.verify();
      expect(report.problems.some((p) => p.includes('position 2 has no stream index entry'))).toBe(true);
      expect(report.problems.some((p) => p.includes('d/a: version 3 where 2 was expected'))).toBe(true);
      await log.close();
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
