/**
 * The real `strand` binary (the npm bin shim over the built CLI), as the CLI tests run it.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The bin shim, run with this Node. */
export const bin = fileURLToPath(new URL('../../packages/cli/bin/strand.js', import.meta.url));

/** What one run of `strand` left: its exit code and output. */
export interface StrandRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `strand --path <path> ...args` to its end, with `env` over this process's environment (default: no colours). */
export function strandAt(path: string, args: readonly string[], env: NodeJS.ProcessEnv = { NO_COLOR: '1' }): Promise<StrandRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, '--path', path, ...args], { env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
