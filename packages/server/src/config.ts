/**
 * Server configuration: one table is the schema. Each option has a default, help text, a flag,
 * an env mirror (`LOGSRV_*`) and its unit in its name. Precedence: flag > env > config file >
 * default. Anything invalid fails at start with a message that says what to change.
 */
import { readFileSync } from 'node:fs';
import { checkSessionTemplate } from './ingest/session-template.js';

type Kind = 'hostport' | 'int' | 'path' | 'enum' | 'string' | 'bool';

interface OptionSpec {
  key: string;
  flag: string;
  env: string;
  kind: Kind;
  default: string | number;
  help: string;
  min?: number;
  values?: readonly string[];
}

const MiB = 1024 * 1024;

export const OPTIONS = [
  {
    key: 'http',
    flag: '--http',
    env: 'LOGSRV_HTTP',
    kind: 'hostport',
    default: '127.0.0.1:7070',
    help: 'HTTP listen address HOST:PORT (port 0 picks a free one)',
  },
  { key: 'dataDir', flag: '--data', env: 'LOGSRV_DATA', kind: 'path', default: './data', help: 'directory of the embedded store (one SQLite file per day)' },
  {
    key: 'store',
    flag: '--store',
    env: 'LOGSRV_STORE',
    kind: 'string',
    default: 'sqlite',
    help: 'store engine: sqlite (embedded, a file per day in --data) or postgres://HOST:PORT/DBNAME (a partition per day)',
  },
  {
    key: 'storeRead',
    flag: '--store-read',
    env: 'LOGSRV_STORE_READ',
    kind: 'string',
    default: 'same',
    help: 'where queries, tails and reports read: "same" as --store, or postgres://… of a read replica',
  },
  {
    key: 'queue',
    flag: '--queue',
    env: 'LOGSRV_QUEUE',
    kind: 'string',
    default: 'memory',
    help: 'queue engine: memory (embedded) or redis://HOST:PORT/DB (Redis Streams, which needs a PostgreSQL store)',
  },
  {
    key: 'queueShards',
    flag: '--queue-shards',
    env: 'LOGSRV_QUEUE_SHARDS',
    kind: 'int',
    min: 1,
    default: 4,
    help: 'Redis streams a deployment spreads sessions over (every process must agree; at most one writer works a shard at a time)',
  },
  {
    key: 'role',
    flag: '--role',
    env: 'LOGSRV_ROLE',
    kind: 'enum',
    values: ['all', 'receiver', 'writer', 'reader'],
    default: 'all',
    help: 'which parts run in this process: receiver (ingest), writer (queue → store), reader (queries, tails, UI, reports), or all',
  },
  {
    key: 'maxBodyBytes',
    flag: '--max-body-bytes',
    env: 'LOGSRV_MAX_BODY_BYTES',
    kind: 'int',
    min: 1,
    default: 1024 * MiB,
    help: 'largest request body, after decompression (NDJSON streams)',
  },
  {
    key: 'maxJsonBodyBytes',
    flag: '--max-json-body-bytes',
    env: 'LOGSRV_MAX_JSON_BODY_BYTES',
    kind: 'int',
    min: 1,
    default: 16 * MiB,
    help: 'largest application/json body (held whole to parse)',
  },
  {
    key: 'maxLineBytes',
    flag: '--max-line-bytes',
    env: 'LOGSRV_MAX_LINE_BYTES',
    kind: 'int',
    min: 64,
    default: MiB,
    help: 'largest single event (NDJSON line)',
  },
  {
    key: 'maxQueueEvents',
    flag: '--max-queue-events',
    env: 'LOGSRV_MAX_QUEUE_EVENTS',
    kind: 'int',
    min: 1,
    default: 200_000,
    help: 'events waiting for the writer before ingest answers 503',
  },
  {
    key: 'maxQueueBytes',
    flag: '--max-queue-bytes',
    env: 'LOGSRV_MAX_QUEUE_BYTES',
    kind: 'int',
    min: 1,
    default: 256 * MiB,
    help: 'bytes waiting for the writer before ingest answers 503',
  },
  {
    key: 'maxBatchEvents',
    flag: '--max-batch-events',
    env: 'LOGSRV_MAX_BATCH_EVENTS',
    kind: 'int',
    min: 1,
    default: 10_000,
    help: 'most events per write transaction (group commit)',
  },
  {
    key: 'requestBatchEvents',
    flag: '--request-batch-events',
    env: 'LOGSRV_REQUEST_BATCH_EVENTS',
    kind: 'int',
    min: 1,
    default: 1000,
    help: 'events of one streamed request published per batch',
  },
  { key: 'readerThreads', flag: '--reader-threads', env: 'LOGSRV_READER_THREADS', kind: 'int', min: 1, default: 2, help: 'SQLite reader worker threads' },
  {
    key: 'sqliteSynchronous',
    flag: '--sqlite-synchronous',
    env: 'LOGSRV_SQLITE_SYNCHRONOUS',
    kind: 'enum',
    values: ['normal', 'full'],
    default: 'normal',
    help: 'normal survives a process crash; full also survives power loss (slower)',
  },
  {
    key: 'searchIndex',
    flag: '--search-index',
    env: 'LOGSRV_SEARCH_INDEX',
    kind: 'enum',
    values: ['on', 'off'],
    default: 'on',
    help: 'full-text index (q=) for new day files; off ingests faster, and q then scans those days',
  },
  {
    key: 'searchChunkRows',
    flag: '--search-chunk-rows',
    env: 'LOGSRV_SEARCH_CHUNK_ROWS',
    kind: 'int',
    min: 16,
    default: 262_144,
    help: 'rows per full-text index table of a day: a search skips up to one table of matches to reach its cursor',
  },
  {
    key: 'searchIndexMaxLagRows',
    flag: '--search-index-max-lag-rows',
    env: 'LOGSRV_SEARCH_INDEX_MAX_LAG_ROWS',
    kind: 'int',
    min: 1000,
    default: 100_000,
    help: 'rows the full-text index (its own thread) may fall behind the commits before the writer waits for it; searches scan the rows not indexed yet',
  },
  {
    key: 'searchIndexBurstLagRows',
    flag: '--search-index-burst-lag-rows',
    env: 'LOGSRV_SEARCH_INDEX_BURST_LAG_ROWS',
    kind: 'int',
    min: 1000,
    default: 1_000_000,
    help: 'the index lag allowed while a quarter of --max-queue-events waits: the writer keeps up with a burst instead of waiting for the index (then ingest would refuse events); searches scan more rows meanwhile',
  },
  {
    key: 'sessionChunks',
    flag: '--session-chunks',
    env: 'LOGSRV_SESSION_CHUNKS',
    kind: 'enum',
    values: ['on', 'off'],
    default: 'on',
    help: "session chunks for new day files (SQLite store): each session's events stored together, already rendered, so a session page is one sequential read; off saves ~1.4x the day file's disk and a thread's CPU per event",
  },
  {
    key: 'sessionChunkFlushMs',
    flag: '--session-chunk-flush-ms',
    env: 'LOGSRV_SESSION_CHUNK_FLUSH_MS',
    kind: 'int',
    min: 10,
    default: 1000,
    help: "longest time events wait in memory before they are written to their sessions' chunks (SQLite store; its own thread, up to 8 MiB); session pages read newer events from the day file",
  },
  {
    key: 'retentionDays',
    flag: '--retention-days',
    env: 'LOGSRV_RETENTION_DAYS',
    kind: 'int',
    min: 0,
    default: 0,
    help: 'keep this many days before today in the store; older days move to <data>/archive (checked at start and hourly; 0 keeps everything)',
  },
  {
    key: 'minFreeDiskBytes',
    flag: '--min-free-disk-bytes',
    env: 'LOGSRV_MIN_FREE_DISK_BYTES',
    kind: 'int',
    min: 0,
    default: 64 * MiB,
    help: 'refuse writes (507 + Retry-After) while the disk of --data has less free space than this, before SQLite meets a full disk (0 turns the guard off)',
  },
  {
    key: 'shutdownTimeoutMs',
    flag: '--shutdown-timeout-ms',
    env: 'LOGSRV_SHUTDOWN_TIMEOUT_MS',
    kind: 'int',
    min: 0,
    default: 30_000,
    help: 'how long SIGTERM waits for requests and the queue to drain',
  },
  {
    key: 'maxTailClients',
    flag: '--max-tail-clients',
    env: 'LOGSRV_MAX_TAIL_CLIENTS',
    kind: 'int',
    min: 1,
    default: 20_000,
    help: 'open live tails (SSE connections) in total; more get 503 (no per-session or duration cap)',
  },
  {
    key: 'tailClientBufferBytes',
    flag: '--tail-client-buffer-bytes',
    env: 'LOGSRV_TAIL_CLIENT_BUFFER_BYTES',
    kind: 'int',
    min: 1024,
    default: MiB,
    help: 'unsent bytes one tail may fall behind before it gets event: lagged and is closed',
  },
  {
    key: 'tailHeartbeatMs',
    flag: '--tail-heartbeat-ms',
    env: 'LOGSRV_TAIL_HEARTBEAT_MS',
    kind: 'int',
    min: 10,
    default: 15_000,
    help: 'interval of the keep-alive comment on idle tails',
  },
  {
    key: 'udp',
    flag: '--udp',
    env: 'LOGSRV_UDP',
    kind: 'hostport',
    default: '127.0.0.1:7071',
    help: 'UDP listen address HOST:PORT, or "off"',
  },
  {
    key: 'udpRecvBufferBytes',
    flag: '--udp-recv-buffer-bytes',
    env: 'LOGSRV_UDP_RECV_BUFFER_BYTES',
    kind: 'int',
    min: 4096,
    default: 4 * MiB,
    help: 'UDP socket receive buffer (SO_RCVBUF); a warning at start says when the OS caps it',
  },
  {
    key: 'udpReader',
    flag: '--udp-reader',
    env: 'LOGSRV_UDP_READER',
    kind: 'enum',
    values: ['auto', 'dgram'],
    default: 'auto',
    help: 'how UDP sockets are read: auto = many datagrams per recvmmsg call (Linux, native addon) when built, else node:dgram; dgram = always node:dgram',
  },
  {
    key: 'maxDatagramBytes',
    flag: '--max-datagram-bytes',
    env: 'LOGSRV_MAX_DATAGRAM_BYTES',
    kind: 'int',
    min: 64,
    default: 65_507,
    help: 'largest UDP datagram accepted; larger ones are counted drops',
  },
  {
    key: 'syslogUdp',
    flag: '--syslog-udp',
    env: 'LOGSRV_SYSLOG_UDP',
    kind: 'hostport',
    default: 'off',
    help: 'syslog (RFC 5424 and RFC 3164, one message per datagram) over UDP: listen address HOST:PORT, or "off"',
  },
  {
    key: 'syslogTcp',
    flag: '--syslog-tcp',
    env: 'LOGSRV_SYSLOG_TCP',
    kind: 'hostport',
    default: 'off',
    help: 'syslog over TCP (octet-counted or newline-framed, RFC 6587): listen address HOST:PORT, or "off"',
  },
  {
    key: 'syslogSession',
    flag: '--syslog-session',
    env: 'LOGSRV_SYSLOG_SESSION',
    kind: 'string',
    default: '{hostname}/{app}|{hostname}|{peer}',
    help: 'session of a syslog message without a `session` SD param: alternatives separated by |, {name} placeholders (README, Shippers)',
  },
  {
    key: 'otlpSession',
    flag: '--otlp-session',
    env: 'LOGSRV_OTLP_SESSION',
    kind: 'string',
    default: '{trace_id}|{service.name}|otlp',
    help: 'session of an OTLP log record without a `session` attribute (README, Shippers)',
  },
  {
    key: 'lokiSession',
    flag: '--loki-session',
    env: 'LOGSRV_LOKI_SESSION',
    kind: 'string',
    default: '{labels}',
    help: 'session of a Loki push entry without a `session` label (README, Shippers)',
  },
  {
    key: 'elasticsearchSession',
    flag: '--elasticsearch-session',
    env: 'LOGSRV_ELASTICSEARCH_SESSION',
    kind: 'string',
    default: '{_index}',
    help: 'session of an Elasticsearch bulk document without a `session` field (README, Shippers)',
  },
  {
    key: 'rateLimit',
    flag: '--rate-limit',
    env: 'LOGSRV_RATE_LIMIT',
    kind: 'int',
    min: 0,
    default: 0,
    help: 'HTTP requests or UDP datagrams per second per source IP (0: no limit)',
  },
  {
    key: 'rateLimitBurst',
    flag: '--rate-limit-burst',
    env: 'LOGSRV_RATE_LIMIT_BURST',
    kind: 'int',
    min: 0,
    default: 0,
    help: 'extra requests or datagrams a source may send in bursts within 10 s (0: twice the per-second limit)',
  },
  {
    key: 'headersTimeoutMs',
    flag: '--headers-timeout-ms',
    env: 'LOGSRV_HEADERS_TIMEOUT_MS',
    kind: 'int',
    min: 100,
    default: 10_000,
    help: 'a client must send its request headers within this time (slowloris)',
  },
  {
    key: 'idleTimeoutMs',
    flag: '--idle-timeout-ms',
    env: 'LOGSRV_IDLE_TIMEOUT_MS',
    kind: 'int',
    min: 100,
    default: 60_000,
    help: 'a connection with no traffic either way for this long is closed (a stalled upload included; tails send heartbeats)',
  },
  {
    key: 'maxConnectionsPerIp',
    flag: '--max-connections-per-ip',
    env: 'LOGSRV_MAX_CONNECTIONS_PER_IP',
    kind: 'int',
    min: 0,
    default: 4096,
    help: 'open HTTP connections (tails included) one source address may hold; more are closed at once; raise it or set 0 (no limit) behind a proxy',
  },
  {
    key: 'insecure',
    flag: '--insecure',
    env: 'LOGSRV_INSECURE',
    kind: 'bool',
    default: 'false',
    help: 'allow listening on a non-loopback address without tokens (anyone who can connect may read and write)',
  },
  {
    key: 'logLevel',
    flag: '--log-level',
    env: 'LOGSRV_LOG_LEVEL',
    kind: 'enum',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    help: "the server's own log level",
  },
] as const satisfies readonly OptionSpec[];

export interface ServerConfig {
  httpHost: string;
  httpPort: number;
  dataDir: string;
  store: string;
  storeRead: string;
  queue: string;
  queueShards: number;
  role: 'all' | 'receiver' | 'writer' | 'reader';
  maxBodyBytes: number;
  maxJsonBodyBytes: number;
  maxLineBytes: number;
  maxQueueEvents: number;
  maxQueueBytes: number;
  maxBatchEvents: number;
  requestBatchEvents: number;
  readerThreads: number;
  sqliteSynchronous: 'normal' | 'full';
  searchIndex: 'on' | 'off';
  searchChunkRows: number;
  searchIndexMaxLagRows: number;
  searchIndexBurstLagRows: number;
  sessionChunks: 'on' | 'off';
  sessionChunkFlushMs: number;
  retentionDays: number;
  minFreeDiskBytes: number;
  shutdownTimeoutMs: number;
  maxTailClients: number;
  tailClientBufferBytes: number;
  tailHeartbeatMs: number;
  /** null when UDP is off. */
  udpHost: string | null;
  udpPort: number;
  udpRecvBufferBytes: number;
  udpReader: 'auto' | 'dgram';
  maxDatagramBytes: number;
  /** null when syslog over UDP / TCP is off. */
  syslogUdpHost: string | null;
  syslogUdpPort: number;
  syslogTcpHost: string | null;
  syslogTcpPort: number;
  syslogSession: string;
  otlpSession: string;
  lokiSession: string;
  elasticsearchSession: string;
  rateLimit: number;
  rateLimitBurst: number;
  insecure: boolean;
  headersTimeoutMs: number;
  idleTimeoutMs: number;
  maxConnectionsPerIp: number;
  logLevel: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function describe(o: OptionSpec): string {
  return `${o.flag} (env ${o.env}, config "${o.key}")`;
}

function check(o: OptionSpec, raw: unknown): string | number | boolean {
  if (o.kind === 'bool') {
    if (raw === true || raw === false) return raw;
    const t = String(raw).toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(t)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(t)) return false;
    throw new ConfigError(`invalid ${describe(o)}: must be true or false, got ${JSON.stringify(raw)}`);
  }
  const text = typeof raw === 'number' ? String(raw) : raw;
  if (typeof text !== 'string')
    throw new ConfigError(`invalid ${describe(o)}: expected ${o.kind === 'int' ? 'an integer' : 'a string'}, got ${JSON.stringify(raw)}`);
  switch (o.kind) {
    case 'int': {
      const n = Number(text);
      if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < (o.min ?? 0)) {
        throw new ConfigError(`invalid ${describe(o)}: must be an integer ≥ ${o.min ?? 0}, got ${JSON.stringify(raw)}`);
      }
      return n;
    }
    case 'enum':
      if (!o.values?.includes(text)) throw new ConfigError(`invalid ${describe(o)}: must be one of ${o.values?.join(', ')}, got ${JSON.stringify(raw)}`);
      return text;
    case 'hostport': {
      if ((o.key === 'udp' || o.default === 'off') && text === 'off') return text;
      const m = /^(.*):(\d{1,5})$/.exec(text);
      const port = m ? Number(m[2]) : -1;
      if (!m?.[1] || port > 65535) throw new ConfigError(`invalid ${describe(o)}: must be HOST:PORT such as 127.0.0.1:7070, got ${JSON.stringify(raw)}`);
      return text;
    }
    default:
      if (text.length === 0) throw new ConfigError(`invalid ${describe(o)}: must not be empty`);
      return text;
  }
}

/**
 * Builds the configuration. `flags` holds values given on the command line, by option key;
 * `env` is usually `process.env`. A `configFile` (JSON, option keys as in {@link OPTIONS}) fills
 * what flags and env leave open.
 */
export function loadConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, configFile?: string): ServerConfig {
  let file: Record<string, unknown> = {};
  if (configFile) {
    let text: string;
    try {
      text = readFileSync(configFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${configFile}: ${(err as Error).message}`);
    }
    try {
      file = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`config file ${configFile} is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof file !== 'object' || file === null || Array.isArray(file)) throw new ConfigError(`config file ${configFile} must hold a JSON object`);
    const known = new Set<string>(OPTIONS.map((o) => o.key));
    for (const k of Object.keys(file)) {
      if (!known.has(k)) throw new ConfigError(`config file ${configFile}: unknown option "${k}" (known: ${[...known].join(', ')})`);
    }
  }
  const values: Record<string, string | number | boolean> = {};
  for (const o of OPTIONS as readonly OptionSpec[]) {
    const raw = flags[o.key] ?? env[o.env] ?? file[o.key] ?? o.default;
    values[o.key] = check(o, raw);
  }
  checkEngines(values.store as string, values.storeRead as string, values.queue as string, values.role as string, values.queueShards as number);
  if ((values.idleTimeoutMs as number) <= (values.tailHeartbeatMs as number)) {
    throw new ConfigError(
      `--idle-timeout-ms (${values.idleTimeoutMs}) must be longer than --tail-heartbeat-ms (${values.tailHeartbeatMs}), or idle tails would be cut between heartbeats`,
    );
  }
  for (const o of OPTIONS as readonly OptionSpec[]) {
    if (!o.key.endsWith('Session')) continue;
    const bad = checkSessionTemplate(values[o.key] as string);
    if (bad) throw new ConfigError(`invalid ${describe(o)}: ${bad}`);
  }
  const http = splitHostPort(values.http as string);
  const udp = values.udp === 'off' ? null : splitHostPort(values.udp as string);
  const syslogUdp = values.syslogUdp === 'off' ? null : splitHostPort(values.syslogUdp as string);
  const syslogTcp = values.syslogTcp === 'off' ? null : splitHostPort(values.syslogTcp as string);
  const { http: _h, udp: _u, syslogUdp: _su, syslogTcp: _st, ...rest } = values;
  return {
    ...(rest as unknown as Omit<
      ServerConfig,
      'httpHost' | 'httpPort' | 'udpHost' | 'udpPort' | 'syslogUdpHost' | 'syslogUdpPort' | 'syslogTcpHost' | 'syslogTcpPort'
    >),
    httpHost: http.host,
    httpPort: http.port,
    udpHost: udp ? udp.host : null,
    udpPort: udp ? udp.port : 0,
    syslogUdpHost: syslogUdp ? syslogUdp.host : null,
    syslogUdpPort: syslogUdp ? syslogUdp.port : 0,
    syslogTcpHost: syslogTcp ? syslogTcp.host : null,
    syslogTcpPort: syslogTcp ? syslogTcp.port : 0,
  };
}

/** The engine combinations that can work (SPEC §4, §6), with a message that says what to change. */
function checkEngines(store: string, storeRead: string, queue: string, role: string, shards: number): void {
  const pg = /^postgres(ql)?:\/\//.test(store);
  if (store !== 'sqlite' && !pg) throw new ConfigError(`--store ${store}: use "sqlite" or postgres://HOST:PORT/DBNAME`);
  if (queue !== 'memory' && !queue.startsWith('redis://')) throw new ConfigError(`--queue ${queue}: use "memory" or redis://HOST:PORT/DB`);
  if (storeRead !== 'same' && !/^postgres(ql)?:\/\//.test(storeRead))
    throw new ConfigError(`--store-read ${storeRead}: use "same" or postgres://HOST:PORT/DBNAME of a replica`);
  if (storeRead !== 'same' && !pg) throw new ConfigError('--store-read needs --store postgres://… (the embedded store has no replicas)');
  if (queue.startsWith('redis://') && !pg) {
    throw new ConfigError(
      `--queue ${queue} needs --store postgres://HOST:PORT/DBNAME: the embedded SQLite store is written by one process, and several writers draining Redis need a shared store`,
    );
  }
  if (role !== 'all' && queue === 'memory') {
    throw new ConfigError(
      `--role ${role} runs one part of a deployment in this process; the parts meet through --queue redis://… and --store postgres://… (the memory queue lives in one process: use --role all)`,
    );
  }
  if (shards > 256) throw new ConfigError(`--queue-shards ${shards}: at most 256`);
}

function splitHostPort(text: string): { host: string; port: number } {
  const cut = text.lastIndexOf(':');
  return { host: text.slice(0, cut).replace(/^\[(.*)\]$/, '$1'), port: Number(text.slice(cut + 1)) };
}

/** The option table in a form the CLI turns into flags and help. */
export function optionSpecs(): readonly OptionSpec[] {
  return OPTIONS;
}
