/**
 * `facestream cameras …` as a child process for tests — the real command line (dist/src/cli/main.js):
 * `runCamerasCli(args, env)` → exit code, stdout, stderr once it exits on its own (killed after `timeoutMs`).
 */
import { execFile } from 'node:child_process';
import { CLI } from './cli-process';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCamerasCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CliResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, FACESTREAM_LOG_LEVEL: 'warn', ...env };
  if (!('FACESTREAM_CONFIG' in env)) delete childEnv.FACESTREAM_CONFIG;
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'cameras', ...args], { env: childEnv, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
