/**
 * Shared plumbing of test/support/kafka.ts and redis.ts: run scripts/kafka.sh or scripts/redis.sh, read the
 * KEY=value lines they print, find missing tools. The scripts hold the real logic (ports, config, readiness, stop),
 * so tests and people start the servers the same way.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { projectRoot } from '../../src/util/paths';

export type InfraScript = 'kafka.sh' | 'redis.sh';

export interface ScriptOutput {
  stdout: string;
  stderr: string;
}

/** Runs `bash scripts/<script> <args>`; rejects with the script's own error lines when it exits non-zero. */
export function runInfraScript(script: InfraScript, args: string[], timeoutMs: number): Promise<ScriptOutput> {
  const file = path.join(projectRoot(), 'scripts', script);
  return new Promise((resolve, reject) => {
    execFile('bash', [file, ...args], { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const how = err.killed ? `was killed after ${timeoutMs} ms` : `exited with ${String(err.code)}`;
        reject(new Error(`scripts/${script} ${args.join(' ')} ${how}:\n${tail(stderr, 40)}`));
        return;
      }
      resolve({ stdout, stderr });
    });
  });
}

/** The value of a KEY=value line in a script's output; throws naming the key and the output when absent. */
export function outputValue(out: ScriptOutput, key: string): string {
  const line = out.stdout.split('\n').find((l) => l.startsWith(`${key}=`));
  if (line === undefined) {
    throw new Error(`expected a ${key}=... line on stdout; got stdout ${JSON.stringify(out.stdout)}, stderr:\n${tail(out.stderr, 20)}`);
  }
  return line.slice(key.length + 1).trim();
}

/** The commands among `names` that are not executable files on PATH. */
export function missingCommands(names: readonly string[]): string[] {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return names.filter((name) =>
    !dirs.some((dir) => {
      try {
        accessSync(path.join(dir, name), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }),
  );
}

/** Whether something accepts TCP connections on 127.0.0.1:port (used to check that a killed server is gone). */
export function portAccepts(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
