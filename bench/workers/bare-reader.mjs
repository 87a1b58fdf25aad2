// The floor of `agent-overhead`: the least a Node.js process in front of a command can do. It
// spawns the command as `logsrv run` does (stdio 'pipe': a socket pair), reads its stdout and
// throws every chunk away; no lines, no events, no network. Exits with the command's code.
// Usage: node bare-reader.mjs COMMAND [ARGS...]
import { spawn } from 'node:child_process';

const child = spawn(process.argv[2], process.argv.slice(3), { stdio: ['inherit', 'pipe', 'pipe'] });
child.stdout.on('data', () => {});
child.stderr.on('data', () => {});
child.on('exit', (code) => process.exit(code ?? 1));
