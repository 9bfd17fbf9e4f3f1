/**
 * `facestream cameras …` as a child process for tests: `runCamerasCli(args, env)` → exit code, stdout, stderr.
 * Runs the real command line (src/cli/main.ts) once it registers the cameras command; until then this file's own
 * entry point registers it on a program the same way and maps errors to exit codes like main() does.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { registerCamerasCommand } from '../../src/cli/cameras-command';
import { buildProgram, main } from '../../src/cli/main';
import { UsageError } from '../../src/util/errors';
import { projectRoot } from '../../src/util/paths';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCamerasCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CliResult> {
  const script = path.join(projectRoot(), 'dist', 'test', 'support', 'cameras-cli.js');
  const childEnv: NodeJS.ProcessEnv = { ...process.env, FACESTREAM_LOG_LEVEL: 'warn', ...env };
  if (!('FACESTREAM_CONFIG' in env)) delete childEnv.FACESTREAM_CONFIG;
  return new Promise((resolve) => {
    execFile(process.execPath, [script, 'cameras', ...args], { env: childEnv, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function run(argv: string[]): Promise<number> {
  if (buildProgram().commands.some((c) => c.name() === 'cameras')) return main(argv);
  const program = new Command('facestream').exitOverride();
  registerCamerasCommand(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    process.stderr.write(`facestream: ${(err as Error).message}\n`);
    return err instanceof UsageError ? err.exitCode : 1;
  }
}

if (require.main === module) {
  void run(process.argv).then((code) => process.exit(code));
}
