/** The `logsrv` program: every subcommand, one binary (SPEC §4). */
import { Command, CommanderError } from 'commander';

type Register = (program: Command) => void;

/**
 * The subcommands in help order, each loaded on demand: `logsrv run` is the agent in front of
 * every command a user wraps, and its start-up is part of that command's time, so it loads its
 * own module and none of the others (serve, token and archive pull in server modules).
 */
const SUBCOMMANDS: [string, () => Promise<Register>][] = [
  ['serve', async () => (await import('./serve.js')).registerServe],
  ['run', async () => (await import('./run.js')).registerRun],
  ['send', async () => (await import('./send.js')).registerSend],
  ['flush', async () => (await import('./flush.js')).registerFlush],
  ['tail', async () => (await import('./tail.js')).registerTail],
  ['query', async () => (await import('./query.js')).registerQuery],
  ['report', async () => (await import('./report.js')).registerReport],
  ['token', async () => (await import('./token.js')).registerToken],
  ['archive', async () => (await import('./archive.js')).registerArchive],
];

/**
 * The program with the subcommands `argv` needs: only the named one when the first argument
 * names one (the program has no options of its own, so a subcommand comes first), else all of
 * them (`--help`, `help`, a mistyped name: commander then lists or suggests from all).
 */
export async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command('logsrv').description('central logging and live log-streaming service').version('0.1.0');
  // Usage errors (unknown flag, missing value) exit 2 like bad option values; set before the
  // subcommands are added so they inherit it.
  program.exitOverride();
  const named = SUBCOMMANDS.find(([name]) => name === argv[2]);
  const loads = named ? [named[1]()] : SUBCOMMANDS.map(([, load]) => load());
  for (const register of await Promise.all(loads)) register(program);
  return program;
}

try {
  await (await buildProgram(process.argv)).parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  // commander has already printed its message; help and --version are not errors.
  process.exit(err.exitCode === 0 ? 0 : 2);
}
