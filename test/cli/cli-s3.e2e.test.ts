import { openS3Log } from '@strand/store-s3';
import { ensureRgw, uniquePrefix } from '@strand/store-s3/testing';
import { describe, expect, it } from 'vitest';
import { strandAt } from './strand.js';

// The real `strand` binary on a log in a real S3 bucket (Ceph RGW), opened by URL with the AWS
// credential chain (environment variables here).
describe('strand CLI on S3', () => {
  it('appends, reads, lists and verifies a log given as an s3:// URL', async () => {
    const env = await ensureRgw();
    const url = `s3://${env.bucket}/${uniquePrefix('cli')}?endpoint=${encodeURIComponent(env.endpoint)}&region=${env.region}&flushIntervalMs=0`;
    const run = (...args: string[]) => strandAt(url, args, { AWS_ACCESS_KEY_ID: env.accessKeyId, AWS_SECRET_ACCESS_KEY: env.secretAccessKey });
    const a = await run('append', 'orders/eu/o-1', '--type', 'Placed', '--data', '{"total":4}', '--expect', 'no_stream', '--json');
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ version: 1, position: 1 });
    expect((await run('append', 'orders/eu/o-1', '--type', 'Placed', '--data', '1', '--expect', 'no_stream')).code).toBe(2);
    const r = await run('read', 'orders/eu/o-1', '--json');
    expect(JSON.parse(r.stdout).map((e: { data: unknown }) => e.data)).toEqual([{ total: 4 }]);
    const info = JSON.parse((await run('info', '--json')).stdout);
    expect(info).toMatchObject({ backend: 's3 (S3Level)', streams: 1, position: 1 });
    expect(JSON.parse((await run('verify', '--json')).stdout)).toMatchObject({ ok: true, events: 1 });
    expect((await run('--path', 's3://', 'info')).code).toBe(1);

    // Read-only commands open a follower: the application's writer, open the whole time, is never
    // fenced by them (a writer opened by `strand read` would make its next append fail).
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: env.accessKeyId, AWS_SECRET_ACCESS_KEY: env.secretAccessKey });
    const { log: writer } = await openS3Log(url);
    try {
      await writer.append('orders/eu/o-2', [{ type: 'Placed', data: { total: 7 } }]);
      for (const args of [['read', 'orders/eu/o-2'], ['info'], ['streams', 'orders'], ['verify'], ['schemas'], ['snapshots'], ['projections'], ['tail', 'orders/>', '--from', 'start', '--count', '2']]) {
        const c = await run(...args, '--json');
        expect(c.code, `${args.join(' ')}: ${c.stderr}`).toBe(0);
      }
      const after = await writer.append('orders/eu/o-2', [{ type: 'Placed', data: { total: 8 } }], { expectedVersion: 1 });
      expect(after.version).toBe(2);
      const tail = await run('tail', 'orders/>', '--from', 'start', '--count', '3', '--json');
      expect(tail.stdout.trim().split('\n').map((l) => JSON.parse(l).data)).toEqual([{ total: 4 }, { total: 7 }, { total: 8 }]);
    } finally {
      await writer.close();
    }
    // Sixteen CLI processes, each loading the AWS SDK: minutes on a loaded 2-core machine.
  }, 600_000);
});
