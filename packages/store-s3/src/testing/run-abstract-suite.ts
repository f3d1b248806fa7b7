/**
 * Runs `abstract-suite.ts` (abstract-level's tape suite against S3Level) in a child process.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RgwEnv } from './rgw.js';

/** Outcome of one suite run. */
export interface SuiteRun {
  /** Exit code of the child (0 = every assertion passed). */
  status: number | null;
  /** tape's closing lines (`# tests`, `# pass`, `# fail`). */
  summary: string;
  /** The failing assertions with context, or the output's tail when the child crashed. */
  failures: string;
}

const script = fileURLToPath(new URL('./abstract-suite.ts', import.meta.url));

/** Runs the suite on `memory` or on the RGW described by `rgw`. */
export function runAbstractSuite(backend: 'memory' | 'rgw', rgw?: RgwEnv): Promise<SuiteRun> {
  const env = { ...process.env };
  if (rgw) {
    env.S3_ENDPOINT = rgw.endpoint;
    env.AWS_ACCESS_KEY_ID = rgw.accessKeyId;
    env.AWS_SECRET_ACCESS_KEY = rgw.secretAccessKey;
    env.S3_BUCKET = rgw.bucket;
    env.AWS_REGION = rgw.region;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, backend], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', (status) => {
      const lines = out.split('\n');
      const summary = lines.filter((l) => /^# (tests|pass|fail|ok)/.test(l)).join('\n');
      const failures = lines
        .flatMap((l, i) => (l.startsWith('not ok') ? lines.slice(Math.max(0, i - 2), i + 14) : []))
        .slice(0, 400)
        .join('\n');
      resolve({ status, summary, failures: failures || (status === 0 ? '' : out.slice(-6000)) });
    });
  });
}
