/**
 * `logsrv flush`: delivers the spools that `logsrv run`/`send` left when the server could not
 * be reached (they are also delivered by the next `run`/`send` to the same server). Spools
 * recorded for another server are left alone unless `--any-server`; a spool held by a running
 * process is skipped. Exit 0 when nothing undelivered is left for this server, 1 otherwise.
 */
import type { LeftoverReport } from '@logsrv/client/agent';
import { deliverLeftovers } from '@logsrv/client/agent';
import type { Command } from 'commander';
import { addAgentOptions, agentSettings, noticePrinter, say } from './agent-common.js';

interface FlushFlags {
  anyServer?: boolean;
  server?: string;
  token?: string;
  spool?: string;
  flushTimeoutMs: number;
}

export function registerFlush(program: Command): void {
  const cmd = program
    .command('flush')
    .description("deliver output that 'logsrv run' or 'logsrv send' kept in the spool while the server was unreachable")
    .option('--any-server', 'also deliver spools recorded for other servers (to this one)');
  addAgentOptions(cmd, false);
  cmd.action(async (flags: FlushFlags) => {
    process.exit(await flush(flags));
  });
}

async function flush(flags: FlushFlags): Promise<number> {
  const name = 'flush';
  const s = agentSettings(name, flags);
  const delivery = deliverLeftovers({
    server: s.server,
    token: s.token,
    spoolDir: s.spoolDir,
    anyServer: flags.anyServer,
    timeoutMs: s.flushTimeoutMs,
    onNotice: noticePrinter(name),
  });
  const stop = () => delivery.stop();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const r: LeftoverReport = await delivery.done;
  for (const d of r.delivered) say(name, `delivered ${d.report.committed} event(s)${d.session ? ` of session ${d.session}` : ''} from ${d.spool}`);
  for (const d of r.remaining) {
    const why = d.report.refused
      ? `the server refused the token (${d.report.refused})`
      : d.report.offline
        ? `${s.server} could not be reached`
        : `${s.server} took no more within ${s.flushTimeoutMs} ms (--flush-timeout-ms)`;
    say(name, `could not deliver ${d.spool}: ${why}; it is kept`);
  }
  for (const o of r.otherServers) say(name, `left ${o.spool}: it is for ${o.server} (use --server ${o.server}, or --any-server)`);
  if (r.busy.length > 0) say(name, `skipped ${r.busy.length} spool(s) in use by running processes`);
  if (r.delivered.length === 0 && r.remaining.length === 0 && r.otherServers.length === 0 && r.busy.length === 0)
    say(name, `nothing to deliver in ${s.spoolDir}`);
  return r.remaining.length > 0 ? 1 : 0;
}
