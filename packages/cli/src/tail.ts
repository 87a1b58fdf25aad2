/**
 * `logsrv tail SESSION [--after ID] [--json]` (SPEC §4): follows a session live until it ends,
 * printing values as the terminal running the command would have shown them (see printEvent). Reconnects by
 * itself with the last id after a dropped connection or a server restart (no duplicate, no gap).
 */

import { TailError, tail } from '@logsrv/client/tail';
import type { StoredEvent } from '@logsrv/protocol';
import { outputPiece } from '@logsrv/protocol/terminal';
import type { Command } from 'commander';

const DEFAULT_SERVER = 'http://127.0.0.1:7070';
/** Longest value shown on a `key value` line for events other than stdout/stderr. */
const SHORT_VALUE_CHARS = 200;

interface TailCliOptions {
  after?: string;
  json?: boolean;
  server?: string;
  token?: string;
}

function write(stream: NodeJS.WriteStream, text: string): Promise<void> | undefined {
  // Waiting for 'drain' slows the reading of the stream, never the output: backpressure.
  if (stream.write(text)) return undefined;
  return new Promise((resolve) => stream.once('drain', resolve));
}

function valueText(e: StoredEvent): string {
  return typeof e.value === 'string' ? e.value : JSON.stringify(e.value);
}

function shortValue(e: StoredEvent): string {
  const v = valueText(e).replace(/[\r\n]+/g, ' ');
  return v.length > SHORT_VALUE_CHARS ? `${v.slice(0, SHORT_VALUE_CHARS)}…` : v;
}

/**
 * Output is written as the command wrote it: a piece of an unfinished line (attrs.partial: a
 * prompt, a progress bar being redrawn with `\r`) without a newline, `\r` and colours kept, so
 * the terminal running `logsrv tail` draws it live the way the command's terminal did.
 */
export function printEvent(e: StoredEvent, json: boolean): Promise<void> | undefined {
  if (json) return write(process.stdout, `${JSON.stringify(e)}\n`);
  if (e.key === 'stdout' || e.key === 'stderr') {
    const p = outputPiece(e);
    return write(e.key === 'stdout' ? process.stdout : process.stderr, p.open ? p.text : `${p.text}\n`);
  }
  return write(process.stderr, `${e.key} ${shortValue(e)}\n`);
}

/** Reasons of a failed first connection that mean no logsrv is at that address. */
const NOT_THERE = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|NO_ANSWER)\b/;

/**
 * A tail of a session that does not exist (yet) waits for it, which is right before a run starts
 * but looks like a hang after a typo: say which it is, once.
 */
async function sayIfMissing(server: string, session: string, token: string | undefined): Promise<void> {
  try {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const r = await fetch(`${server.replace(/\/+$/, '')}/v1/sessions/${encodeURIComponent(session)}`, { headers, signal: AbortSignal.timeout(5000) });
    await r.body?.cancel();
    if (r.status === 404) process.stderr.write(`logsrv tail: session ${session} has no events yet; waiting for it to start (Ctrl-C to stop)\n`);
  } catch {
    // Only a courtesy: the tail itself reports connection problems.
  }
}

export function registerTail(program: Command): void {
  program
    .command('tail')
    .description('follow a session live until it ends: stored events first, then new ones as they arrive')
    .argument('<session>', 'the session to follow')
    .option('--after <id>', 'start after this event id (default: from the first event)')
    .option('--json', 'print every event as one JSON line on stdout (default: values, stdout to stdout, stderr and other keys to stderr)')
    .option('--server <url>', `server address [env LOGSRV_SERVER, default ${DEFAULT_SERVER}]`)
    .option('--token <token>', 'bearer token with read scope [env LOGSRV_TOKEN]')
    .action(async (session: string, opts: TailCliOptions) => {
      const server = opts.server ?? process.env.LOGSRV_SERVER ?? DEFAULT_SERVER;
      const token = opts.token ?? process.env.LOGSRV_TOKEN;
      const json = opts.json === true;
      // `logsrv tail s | head` closes our stdout: that is a normal way to stop.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE') process.exit(0);
        throw err;
      });
      let warned = false;
      let connected = false;
      let unreachable: string | null = null;
      const stop = new AbortController();
      try {
        const result = await tail({
          server,
          session,
          after: opts.after ?? null,
          token,
          signal: stop.signal,
          onEvent: (e) => printEvent(e, json),
          onNotice: (n) => {
            if (n.kind === 'reconnecting' && !connected && NOT_THERE.test(n.reason)) {
              // Never reached a server: most likely a wrong --server, not a restart to wait out.
              unreachable = n.reason;
              stop.abort();
              return;
            }
            if (n.kind === 'connected' && !connected) {
              connected = true;
              if (!opts.after) void sayIfMissing(server, session, token);
            }
            if (n.kind === 'reconnecting') {
              warned = true;
              const at = n.after ? `after ${n.after}` : 'from the start';
              process.stderr.write(`logsrv tail: ${n.reason}; reconnecting ${at} in ${(n.delayMs / 1000).toFixed(1)} s\n`);
            } else if (n.kind === 'connected' && warned) {
              warned = false;
              process.stderr.write(`logsrv tail: reconnected to ${server}\n`);
            }
          },
        });
        if (unreachable !== null) {
          process.stderr.write(
            `logsrv tail: cannot reach a logsrv server at ${server} (${unreachable}); is it running? Set the address with --server or LOGSRV_SERVER\n`,
          );
        }
        process.exitCode = result.reason === 'end' ? 0 : 1;
      } catch (err) {
        if (err instanceof TailError) {
          process.stderr.write(`logsrv tail: ${err.message}\n`);
          process.exitCode = 1;
          return;
        }
        throw err;
      }
    });
}
