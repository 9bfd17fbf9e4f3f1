#!/usr/bin/env node
/** The `facestream` command line: one program, one subcommand per job. */
import { Command, CommanderError } from 'commander';
import { registerEvalCommand } from './eval-command';
import { registerModelsCommand } from './models-command';
import { registerEnrollCommand } from './enroll-command';
import { registerWatchlistCommand } from './watchlist-command';
import { registerCalibrateCommand } from './calibrate-command';
import { registerRunCommand } from './run-command';
import { registerDemoCommand } from './demo-command';
import { registerReceiveCommand } from './receive-command';
import { registerServiceCommands } from './service-commands';
import { registerCamerasCommand } from './cameras-command';
import { registerApiCommand } from './api-command';
import { registerKeysCommand } from './keys-command';
import { UsageError } from '../util/errors';

export function buildProgram(): Command {
  const program = new Command('facestream')
    .description('Identify watch-listed people in live IP-camera video')
    .showHelpAfterError()
    .exitOverride();
  registerModelsCommand(program);
  registerEvalCommand(program);
  registerEnrollCommand(program);
  registerWatchlistCommand(program);
  registerCalibrateCommand(program);
  registerRunCommand(program);
  registerDemoCommand(program);
  registerReceiveCommand(program);
  registerServiceCommands(program);
  registerCamerasCommand(program);
  registerApiCommand(program);
  registerKeysCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    // Commander has printed the problem; a usage error exits 2 like a configuration error (help/version exit 0).
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError) {
      process.stderr.write(`facestream: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`facestream: ${(err as Error).message ?? String(err)}\n`);
    if (process.env.FACESTREAM_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
