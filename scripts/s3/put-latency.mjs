// PUT latency and client CPU of S3ObjectStore with and without the direct PUT path, against the
// local S3 server (started by ensure-rgw.sh). Run after `npm run build`:
//   node scripts/s3/put-latency.mjs [bodyBytes=20000] [puts=300]
import { S3ObjectStore } from '@strand/store-s3';
import { ensureRgw, rgwOptions, uniquePrefix } from '@strand/store-s3/testing';

const env = await ensureRgw();
const bytes = Number(process.argv[2] ?? 20_000);
const n = Number(process.argv[3] ?? 300);
const body = Buffer.alloc(bytes, 7);
const rows = [];
for (let rep = 0; rep < 3; rep++) {
  for (const directPut of [false, true]) {
    const store = new S3ObjectStore({ ...rgwOptions(env), directPut });
    const prefix = uniquePrefix('put-latency');
    await store.put(`${prefix}warm`, body); // connection and endpoint set up outside the timing
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await store.put(`${prefix}${i}`, body, { ifNoneMatch: '*' });
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    rows.push({ path: directPut ? 'direct' : 'sdk', 'ms/PUT': +(ms / n).toFixed(2), 'cpu ms/PUT': +((cpu.user + cpu.system) / 1000 / n).toFixed(3) });
    store.destroy();
  }
}
console.table(rows);
