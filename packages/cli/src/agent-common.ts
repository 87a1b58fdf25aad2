/**
 * What `logsrv run`, `send` and `flush` share: server/token/spool options with their env
 * mirrors, the agent's messages on stderr (the child's stdout is never touched), leftover spool
 * delivery, and the end-of-run report about the spool.
 *
 * This file imports only the client package: the agent starts without loading the server.
 */
import type { CloseReport, LeftoverDelivery, LeftoverReport, SenderNotice } from '@logsrv/client/agent';
import { defaultSpoolDir, deliverLeftovers, normalizeServer, randomHex } from '@logsrv/client/agent';
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';

export const DEFAULT_SERVER = 'http://127.0.0.1:7070';
/** The server's default line limit is 1 MiB; this leaves room for the event's other fields. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024 - 8 * 1024;

export interface AgentFlags {
  server?: string;
  token?: string;
  spool?: string;
  flushTimeoutMs: number;
}

export interface AgentSettings {
  server: string;
  token: string | undefined;
  spoolDir: string;
  flushTimeoutMs: number;
}

export function intOption(min: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer ≥ ${min}`);
    return n;
  };
}

/** --server, --token, --spool, --flush-timeout-ms (and their LOGSRV_* env mirrors). */
export function addAgentOptions(cmd: Command, flushTimeout: boolean): Command {
  cmd
    .addOption(new Option('--server <url>', `logsrv server [default ${DEFAULT_SERVER}]`).env('LOGSRV_SERVER'))
    .addOption(new Option('--token <token>', 'bearer token with the ingest scope').env('LOGSRV_TOKEN'))
    .addOption(new Option('--spool <dir>', `where undelivered output waits for the server [default ${defaultSpoolDir()}]`).env('LOGSRV_SPOOL'));
  cmd.addOption(
    new Option(
      '--flush-timeout-ms <ms>',
      flushTimeout ? 'at exit, give up delivering after this long without progress' : 'give up on a spool after this long without progress',
    )
      .env('LOGSRV_FLUSH_TIMEOUT_MS')
      .argParser(intOption(0))
      .default(5000),
  );
  return cmd;
}

/** Validates the shared flags; a bad one ends the program with exit code 2 and a message. */
export function agentSettings(cmdName: string, f: AgentFlags): AgentSettings {
  let server: string;
  try {
    server = normalizeServer(f.server || DEFAULT_SERVER);
  } catch (err) {
    usageError(cmdName, `--server: ${(err as Error).message}`);
  }
  return { server, token: f.token || undefined, spoolDir: f.spool || defaultSpoolDir(), flushTimeoutMs: f.flushTimeoutMs };
}

export function usageError(cmdName: string, message: string): never {
  process.stderr.write(`logsrv ${cmdName}: ${message}\n`);
  process.exit(2);
}

export function say(cmdName: string, message: string): void {
  process.stderr.write(`logsrv ${cmdName}: ${message}\n`);
}

/** A refused token is said once per program, whether the sender or leftover delivery met it. */
let refusedShown = false;

export function noticePrinter(cmdName: string): (n: SenderNotice) => void {
  let rejectedShown = 0;
  return (n) => {
    // A stream of invalid events would flood the terminal: the first few tell the story.
    if (n.kind === 'rejected' && ++rejectedShown > 3) return;
    if (n.kind === 'refused') {
      if (refusedShown) return;
      refusedShown = true;
    }
    // Going through the spool because output outruns the server is routine: nothing to act on.
    if (n.kind === 'buffer-full') return;
    say(cmdName, n.message);
  };
}

/** `run-20261122-101500-3fa9c1`: sortable, readable, unique enough. */
export function generateSession(prefix = 'run'): string {
  const t = new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  return `${prefix}-${t}-${randomHex(3)}`;
}

export function checkName(cmdName: string, flag: string, value: string | undefined): void {
  if (value === undefined) return;
  if (value.length === 0 || value.length > 256) usageError(cmdName, `${flag} must be 1 to 256 characters, got ${value.length}`);
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

function kib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

/** Starts delivering earlier runs' spools in the background. */
export function startLeftovers(cmdName: string, s: AgentSettings): LeftoverDelivery {
  return deliverLeftovers({ server: s.server, token: s.token, spoolDir: s.spoolDir, timeoutMs: s.flushTimeoutMs, onNotice: noticePrinter(cmdName) });
}

/** Gives background leftover delivery until `deadline`, then stops it; tells what it did. */
export async function finishLeftovers(cmdName: string, d: LeftoverDelivery, waitMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const waited = await Promise.race([d.done, new Promise<null>((r) => (timer = setTimeout(() => r(null), waitMs)))]);
  clearTimeout(timer);
  if (waited === null) d.stop();
  const report: LeftoverReport = await d.done;
  for (const r of report.delivered) {
    say(cmdName, `delivered ${plural(r.report.committed, 'spooled event')} left by an earlier run${r.session ? ` (session ${r.session})` : ''}`);
  }
}

/** The sentence at exit when output could not all be delivered; null when it was. */
export function spoolReport(cmdName: string, s: AgentSettings, r: CloseReport): string | null {
  const parts: string[] = [];
  const pending = r.sent - r.committed - r.rejected - r.lost;
  if (r.spoolFile && pending > 0) {
    // The refusal's reason was said when it happened (a 'refused' notice): not repeated here.
    const why = r.refused
      ? `the server at ${s.server} refused the token`
      : r.offline
        ? `the server at ${s.server} could not be reached`
        : `the server at ${s.server} took no more within ${s.flushTimeoutMs} ms (--flush-timeout-ms)`;
    parts.push(
      `${why}: ${plural(pending, 'event')} (${kib(r.spooledBytes)}) wait in ${r.spoolFile}. ` +
        (r.refused
          ? `Deliver them with a token it accepts: logsrv flush --server ${s.server} --token TOKEN`
          : `The next 'logsrv run' or 'logsrv send' to ${s.server} delivers them, or now: logsrv flush --server ${s.server}${s.token ? ' --token TOKEN' : ''}`) +
        (s.spoolDir !== defaultSpoolDir() ? ` --spool ${s.spoolDir}` : ''),
    );
  }
  if (r.lost > 0) parts.push(`${plural(r.lost, 'event')} could not be kept (the spool could not be written) and are lost`);
  if (r.rejected > 0) parts.push(`${plural(r.rejected, 'event')} were rejected by the server as invalid`);
  return parts.length > 0 ? parts.map((p) => `logsrv ${cmdName}: ${p}`).join('\n') : null;
}
