/**
 * Delivery of spools that earlier processes left behind (the server was down when they
 * exited). `logsrv run` and `logsrv send` start it in the background; `logsrv flush` waits for it.
 * Spools are delivered one at a time, oldest first, each over its own sender and connection;
 * a spool held by a live process (its lock) is left alone.
 */
import type { CloseReport, SenderNotice } from './http-sender.js';
import { HttpSender, normalizeServer } from './http-sender.js';
import { defaultSpoolDir, Spool } from './spool.js';

export interface LeftoverOptions {
  server: string;
  token?: string | undefined;
  spoolDir?: string | undefined;
  /** Also deliver spools recorded for other servers (to this one). */
  anyServer?: boolean;
  /** Per spool: give up after this long without progress. Default 5 s. */
  timeoutMs?: number;
  onNotice?: (n: SenderNotice) => void;
}

export interface LeftoverResult {
  spool: string;
  session: string | undefined;
  report: CloseReport;
}

export interface LeftoverReport {
  /** Spools fully delivered (and deleted). */
  delivered: LeftoverResult[];
  /** Spools still holding undelivered lines. */
  remaining: LeftoverResult[];
  /** Spools for other servers, not touched (see `anyServer`). */
  otherServers: { spool: string; server: string }[];
  /** Spools held by a live process. */
  busy: string[];
}

export interface LeftoverDelivery {
  done: Promise<LeftoverReport>;
  /** Stops after the current attempt; undelivered spools stay for next time. */
  stop(): void;
}

/** Starts delivering the leftover spools in `spoolDir` that were meant for `server`. */
export function deliverLeftovers(opts: LeftoverOptions): LeftoverDelivery {
  const dir = opts.spoolDir ?? defaultSpoolDir();
  const server = normalizeServer(opts.server);
  let stopped = false;
  let current: HttpSender | null = null;
  const run = async (): Promise<LeftoverReport> => {
    const out: LeftoverReport = { delivered: [], remaining: [], otherServers: [], busy: [] };
    for (const name of Spool.list(dir)) {
      if (stopped) break;
      const spool = Spool.adopt(dir, name);
      if (!spool) {
        out.busy.push(name);
        continue;
      }
      let recorded = spool.meta.server;
      try {
        recorded = normalizeServer(recorded);
      } catch {
        // keep what was recorded
      }
      if (recorded !== server && !opts.anyServer) {
        spool.release();
        out.otherServers.push({ spool: spool.file, server: recorded });
        continue;
      }
      const file = spool.file;
      current = new HttpSender({ server, token: opts.token, adopt: spool, onNotice: opts.onNotice });
      const report = await current.close(opts.timeoutMs ?? 5000);
      current = null;
      const result = { spool: file, session: spool.meta.session, report };
      if (report.delivered) out.delivered.push(result);
      else out.remaining.push(result);
      if (report.refused) break;
    }
    return out;
  };
  return {
    done: run(),
    stop() {
      stopped = true;
      current?.interrupt();
    },
  };
}
