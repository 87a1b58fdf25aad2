/**
 * Lifecycle, kept apart from what is assembled: the order things stop in, and what a failure to
 * listen means to the user. The composition root (main.ts) registers each part's stop as it
 * starts the part; `stop` runs them in the reverse order of a request's path through the server
 * — first what accepts work, last what stores it — so nothing accepted is left unstored.
 */
export class Lifecycle {
  private readonly steps: { name: string; run: () => Promise<void> | void }[] = [];
  private stopping: Promise<void> | null = null;

  /** Adds a stop step; steps run in the order added. */
  onStop(name: string, run: () => Promise<void> | void): void {
    this.steps.push({ name, run });
  }

  /** Runs every step once, in order; a failing step does not keep the later ones from running. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      let first: unknown = null;
      for (const s of this.steps) {
        try {
          await s.run();
        } catch (err) {
          first ??= new Error(`stopping ${s.name}: ${(err as Error)?.message ?? String(err)}`);
        }
      }
      if (first) throw first;
    })();
    return this.stopping;
  }
}

/** The server could not start for a reason of its environment (an address in use, say): exit 1. */
export class StartError extends Error {
  override name = 'StartError';
}

export function listenFailure(err: unknown, what: string): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE' || /EADDRINUSE/.test(String((err as Error)?.message)))
    return `cannot listen on ${what}: the address is in use (another logsrv?); pick another with ${what.startsWith('syslog') ? '--syslog-udp/--syslog-tcp' : '--http/--udp'}`;
  if (code === 'EACCES' || /EACCES/.test(String((err as Error)?.message)))
    return `cannot listen on ${what}: permission denied (ports below 1024 need privileges)`;
  return `cannot listen on ${what}: ${(err as Error)?.message ?? String(err)}`;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
