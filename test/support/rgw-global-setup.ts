/**
 * Vitest global setup: the store-s3 tests start a throw-away Ceph RGW on demand
 * (`scripts/s3/ensure-rgw.sh`, idempotent). This tears it down after the run, but only if it was
 * not already running when the run began (a developer's long-lived test server is left alone).
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const data = `${root}.rgw/cluster`;
const pidFile = `${data}/run/client.rgw.s3.pid`;

function rgwRunning(): boolean {
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Remembers whether RGW was up; returns the teardown. */
export default function setup(): () => void {
  const wasRunning = rgwRunning() || process.env.S3_ENDPOINT !== undefined;
  return () => {
    if (wasRunning || !rgwRunning()) return;
    execFileSync('bash', [`${root}scripts/s3/stop-rgw.sh`, data, '--purge'], { stdio: 'inherit' });
  };
}
