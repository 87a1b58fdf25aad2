/** `logsrv serve` (SPEC §4): flags come from the server's option table, so help and env mirrors never drift. */
import type { RunningServer, ServerConfig } from '@logsrv/server';
// Only the option table here; the server itself is imported when `serve` runs. Importing it up
// front cost every `logsrv` invocation ~1 s and ~35 MB (typebox, fastify), `logsrv run` included.
import { ConfigError, loadConfig, optionSpecs } from '@logsrv/server/config';
import type { Command } from 'commander';

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .description('run the log service: HTTP ingest, embedded queue and store, read API')
    .option('--config <file>', 'JSON config file (keys as in the option names below, camelCase) [env LOGSRV_CONFIG]', process.env.LOGSRV_CONFIG);
  const keyOf = new Map<string, string>();
  for (const o of optionSpecs()) {
    const long = o.flag.slice(2);
    cmd.option(o.kind === 'bool' ? o.flag : `${o.flag} <value>`, `${o.help} [env ${o.env}, default ${o.default}]`);
    // commander names the option after the flag in camelCase; map it back to the config key.
    keyOf.set(
      long.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase()),
      o.key,
    );
  }
  cmd.action(async (opts: Record<string, unknown>) => {
    const flags: Record<string, unknown> = {};
    for (const [name, key] of keyOf) if (opts[name] !== undefined) flags[key] = opts[name];
    let config: ServerConfig;
    try {
      config = loadConfig(flags, process.env, opts.config as string | undefined);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`logsrv serve: ${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
    const { DataDirError, redactUrl, StartError, startServer } = await import('@logsrv/server');
    let server: RunningServer;
    try {
      server = await startServer(config);
    } catch (err) {
      if (err instanceof ConfigError || err instanceof StartError || err instanceof DataDirError) {
        process.stderr.write(`logsrv serve: ${err.message}\n`);
        process.exit(err instanceof ConfigError ? 2 : 1);
      }
      throw err;
    }
    let udp = server.udpPort === null ? 'UDP off' : `UDP ${config.udpHost}:${server.udpPort}`;
    if (server.syslogUdpPort !== null) udp += `, syslog UDP ${config.syslogUdpHost}:${server.syslogUdpPort}`;
    if (server.syslogTcpPort !== null) udp += `, syslog TCP ${config.syslogTcpHost}:${server.syslogTcpPort}`;
    const parts = {
      all: 'HTTP ingest, read API, web UI',
      receiver: 'receiver: HTTP ingest',
      writer: 'writer: health and metrics only',
      reader: 'reader: read API, tails, web UI',
    };
    const engines =
      config.store === 'sqlite'
        ? `data in ${config.dataDir}`
        : `queue ${config.queue}, store ${redactUrl(config.store)}${config.storeRead !== 'same' ? `, reads from ${redactUrl(config.storeRead)}` : ''}`;
    process.stderr.write(`logsrv listening on ${server.url} (${parts[config.role]}), ${udp} — ${engines}\n`);
    if (!server.authEnabled) {
      process.stderr.write(
        `logsrv: no tokens in ${config.dataDir}/tokens.json — the server is open to every local user${config.insecure ? ' and, with --insecure, to anyone who can connect' : ' (loopback only)'}; \`logsrv token create\` turns auth on\n`,
      );
    }
    handleSignals(server, config.shutdownTimeoutMs);
  });
}

function handleSignals(server: RunningServer, timeoutMs: number): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`logsrv: second ${signal}, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`logsrv: ${signal} received, draining the queue and closing\n`);
    const timer = setTimeout(() => {
      process.stderr.write(`logsrv: shutdown took longer than ${timeoutMs} ms (--shutdown-timeout-ms), exiting\n`);
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    server.close().then(
      () => {
        process.stderr.write('logsrv: stopped cleanly\n');
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`logsrv: error while stopping: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
