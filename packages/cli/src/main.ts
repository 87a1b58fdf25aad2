/** The `logsrv` program: every subcommand, one binary (SPEC §4). */
import { Command, CommanderError } from 'commander';
import { registerArchive } from './archive.js';
import { registerFlush } from './flush.js';
import { registerQuery } from './query.js';
import { registerReport } from './report.js';
import { registerRun } from './run.js';
import { registerSend } from './send.js';
import { registerServe } from './serve.js';
import { registerTail } from './tail.js';
import { registerToken } from './token.js';

export function buildProgram(): Command {
  const program = new Command('logsrv').description('central logging and live log-streaming service').version('0.1.0');
  // Usage errors (unknown flag, missing value) exit 2 like bad option values; set before the
  // subcommands are added so they inherit it.
  program.exitOverride();
  registerServe(program);
  registerRun(program);
  registerSend(program);
  registerFlush(program);
  registerTail(program);
  registerQuery(program);
  registerReport(program);
  registerToken(program);
  registerArchive(program);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  // commander has already printed its message; help and --version are not errors.
  process.exit(err.exitCode === 0 ? 0 : 2);
}
