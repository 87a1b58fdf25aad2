/**
 * `logsrv report components|keys|stats KEY [--from --to --component] [--json]`: the health reports
 * (`GET /v1/reports/...`) as readable tables, or `--json` for the response body as the API
 * returns it. Exit codes: 0 done, 1 the server refused (the reason is printed) or could not be
 * reached, 2 usage error.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';

const DEFAULT_SERVER = 'http://127.0.0.1:7070';

interface ReportOptions {
  from?: string;
  to?: string;
  component?: string;
  limit?: number;
  json?: boolean;
  server?: string;
  token?: string;
}

class ReportError extends Error {}

interface Window {
  from: string;
  to: string;
  component?: string;
}
interface ComponentsBody extends Window {
  components: { component: string | null; events: number; levels: Record<string, number>; errorRate: number }[];
}
interface KeysBody extends Window {
  keys: { key: string; events: number }[];
}
type Figure = number | null;
interface StatsBody extends Window {
  key: string;
  count: number;
  min: Figure;
  max: Figure;
  mean: Figure;
  p50: Figure;
  p95: Figure;
  p99: Figure;
  relativeError: number;
  buckets: { start: string; count: number; mean: Figure; p95: Figure; max: Figure }[];
}

function positiveInt(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number ≥ 1');
  return n;
}

async function fetchReport(o: ReportOptions, path: string, extra: Record<string, string> = {}): Promise<unknown> {
  const server = (o.server ?? process.env.LOGSRV_SERVER ?? DEFAULT_SERVER).replace(/\/+$/, '');
  const token = o.token ?? process.env.LOGSRV_TOKEN;
  const params = new URLSearchParams(extra);
  if (o.from !== undefined) params.set('from', o.from);
  if (o.to !== undefined) params.set('to', o.to);
  if (o.component !== undefined) params.set('component', o.component);
  let res: Response;
  try {
    res = await fetch(`${server}${path}?${params}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    throw new ReportError(
      `cannot reach ${server}: ${cause?.code ?? (err as Error).message} (is \`logsrv serve\` running? --server or LOGSRV_SERVER sets the address)`,
    );
  }
  const text = await res.text();
  let body: { error?: { code?: string; message?: string } } | null;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ReportError(`${server} answered ${res.status} with something that is not JSON`);
  }
  if (res.status !== 200) throw new ReportError(`${body?.error?.message ?? `HTTP ${res.status}`}${body?.error?.code ? ` (${body.error.code})` : ''}`);
  return body;
}

/** Columns padded to their widest cell; numbers right-aligned. */
export function table(head: string[], rows: (string | Figure)[][]): string {
  const cells = [head, ...rows.map((r) => r.map((c) => (typeof c === 'string' ? c : fmt(c))))];
  const right = head.map((_h, i) => rows.length > 0 && rows.every((r) => typeof r[i] !== 'string'));
  const widths = head.map((_h, i) => Math.max(...cells.map((r) => (r[i] as string).length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => (right[i] ? (c as string).padStart(widths[i] as number) : (c as string).padEnd(widths[i] as number)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A figure to read: integers whole, others with 4 significant digits (at least 2 decimals for small ones). */
export function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined) return '-';
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  return a >= 1000 ? x.toFixed(1) : a >= 1 ? String(Number(x.toPrecision(4))) : String(Number(x.toPrecision(3)));
}

function windowLine(b: Window): string {
  return `${b.from} to ${b.to}${b.component !== undefined ? `, component ${b.component}` : ''}`;
}

function clean(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters must not reach the terminal
  return s.replace(/[\u0000-\u001f\u007f]/g, '?');
}

function components(b: ComponentsBody): string {
  const rows = b.components.map((c) => [
    c.component === null ? '(none)' : clean(c.component),
    c.events,
    c.levels.error ?? 0,
    `${(c.errorRate * 100).toFixed(2)}%`,
    Object.entries(c.levels)
      .sort((x, y) => y[1] - x[1])
      .map(([l, n]) => `${clean(l)} ${n}`)
      .join(', '),
  ]);
  return `${windowLine(b)}\n${rows.length === 0 ? 'no events' : table(['COMPONENT', 'EVENTS', 'ERRORS', 'ERROR RATE', 'LEVELS'], rows)}\n`;
}

function keys(b: KeysBody): string {
  const rows = b.keys.map((k) => [clean(k.key), k.events]);
  return `${windowLine(b)}\n${rows.length === 0 ? 'no events' : table(['KEY', 'EVENTS'], rows)}\n`;
}

function stats(b: StatsBody): string {
  let out = `${clean(b.key)}: ${windowLine(b)}\n`;
  if (b.count === 0) return `${out}no numeric values\n`;
  out += `${table(
    ['COUNT', 'MIN', 'MEAN', 'MAX', 'P50', 'P95', 'P99'],
    [[b.count, b.min, b.mean, b.max, b.p50, b.p95, b.p99]],
  )}\n(quantiles within ${b.relativeError * 100}% of the exact values)\n\n`;
  const rows = b.buckets.map((m) => [m.start.slice(0, 16).replace('T', ' '), m.count, m.mean, m.p95, m.max]);
  return `${out}${table(['MINUTE (UTC)', 'COUNT', 'MEAN', 'P95', 'MAX'], rows)}\n`;
}

export function registerReport(program: Command): void {
  const report = program.command('report').description('health reports: events and errors per component, most frequent keys, figures of a key');
  const common = (c: Command) =>
    c
      .option('--from <time>', 'window start: RFC 3339 or epoch ms (default: an hour before --to)')
      .option('--to <time>', 'window end: RFC 3339 or epoch ms (default: now)')
      .option('--component <name>', 'events of this component only')
      .option('--json', 'the response body as the HTTP API returns it')
      .option('--server <url>', `server address [env LOGSRV_SERVER, default ${DEFAULT_SERVER}]`)
      .option('--token <token>', 'bearer token with read scope [env LOGSRV_TOKEN]');
  const run = async <B>(o: ReportOptions, path: string, extra: Record<string, string>, show: (b: B) => string) => {
    try {
      const body = await fetchReport(o, path, extra);
      process.stdout.write(o.json ? `${JSON.stringify(body)}\n` : show(body as B));
    } catch (err) {
      if (!(err instanceof ReportError)) throw err;
      process.stderr.write(`logsrv report: ${err.message}\n`);
      process.exitCode = 1;
    }
  };
  common(report.command('components').description('events, levels and error rate per component')).action((o: ReportOptions) =>
    run<ComponentsBody>(o, '/v1/reports/components', {}, components),
  );
  common(report.command('keys').description('keys by number of events, most first'))
    .option('--limit <n>', 'at most this many keys (default 50)', positiveInt)
    .action((o: ReportOptions) => run<KeysBody>(o, '/v1/reports/keys', o.limit !== undefined ? { limit: String(o.limit) } : {}, keys));
  common(report.command('stats').description("count, min, max, mean, p50/p95/p99 of a key's numeric values, and per minute"))
    .argument('<key>', 'the key (its values: numbers, or objects with a numeric "value")')
    .action((key: string, o: ReportOptions) => run<StatsBody>(o, '/v1/reports/stats', { key }, stats));
}
