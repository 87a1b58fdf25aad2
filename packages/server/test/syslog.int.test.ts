/**
 * Syslog receivers end to end: a real rsyslogd (Debian package, a private instance with its own
 * config, no system inputs) receives messages from `logger` and forwards them to logsrv over UDP
 * (RFC 5424, `RSYSLOG_SyslogProtocol23Format`) and TCP (octet-counted `RSYSLOG_ForwardFormat`,
 * whose TAG has no colon, and newline-framed `RSYSLOG_TraditionalForwardFormat`); the stored
 * events are checked field by field. Garbage is counted and the receivers keep working.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestServer } from './helpers.ts';
import { readAll, startTestServer } from './helpers.ts';

const RSYSLOGD = '/usr/sbin/rsyslogd';
const LOGGER = '/usr/bin/logger';
const missing = !existsSync(RSYSLOGD) || !existsSync(LOGGER);
if (missing && process.env.CI === 'true') throw new Error('rsyslogd or logger missing: apt-get install -y rsyslog bsdutils');
const skipReason = missing ? 'rsyslogd or logger missing (apt-get install -y rsyslog); skipped outside CI' : false;

async function metric(srv: TestServer, name: string, reason?: string): Promise<number> {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  const want = reason === undefined ? `${name}{transport="syslog"} ` : `${name}{transport="syslog",reason="${reason}"} `;
  const line = text.split('\n').find((l) => l.startsWith(want));
  return line ? Number(line.slice(want.length)) : 0;
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

describe('syslog from a real rsyslog', { skip: skipReason }, () => {
  let srv: TestServer;
  let rs: ChildProcess;
  let dir: string;
  let inPort: number;
  const run = `r${process.pid}`;
  const host = hostname();

  before(async () => {
    srv = await startTestServer({ syslogUdp: '127.0.0.1:0', syslogTcp: '127.0.0.1:0' });
    dir = mkdtempSync(join(tmpdir(), 'logsrv-rsyslog-'));
    inPort = await freeUdpPort();
    const conf = join(dir, 'rsyslog.conf');
    // One input (imudp, fed by `logger`), three forwards: the message's app name picks the route.
    writeFileSync(
      conf,
      [
        `global(workDirectory="${dir}")`,
        'module(load="imudp")',
        `input(type="imudp" address="127.0.0.1" port="${inPort}" ruleset="fwd")`,
        'ruleset(name="fwd") {',
        `  if $programname == "${run}udp" then action(type="omfwd" target="127.0.0.1" port="${srv.syslogUdpPort}" protocol="udp" template="RSYSLOG_SyslogProtocol23Format")`,
        `  if $programname == "${run}oct" then action(type="omfwd" target="127.0.0.1" port="${srv.syslogTcpPort}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_ForwardFormat")`,
        `  if $programname == "${run}lf" then action(type="omfwd" target="127.0.0.1" port="${srv.syslogTcpPort}" protocol="tcp" template="RSYSLOG_TraditionalForwardFormat")`,
        '}',
        '',
      ].join('\n'),
    );
    rs = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    rs.stderr?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    await until('rsyslogd to bind its input', async () => {
      if (rs.exitCode !== null) throw new Error(`rsyslogd exited: ${out}`);
      const text = execFileSync('cat', ['/proc/net/udp'], { encoding: 'utf8' });
      return text.includes(`:${inPort.toString(16).toUpperCase().padStart(4, '0')} `) ? true : undefined;
    });
  });

  after(async () => {
    if (rs && rs.exitCode === null) {
      const gone = new Promise((r) => rs.once('exit', r));
      rs.kill('SIGTERM');
      await gone;
    }
    await srv?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function logger(args: string[]): void {
    execFileSync(LOGGER, ['--server', '127.0.0.1', '--port', String(inPort), '--udp', ...args]);
  }

  test('UDP, RFC 5424 with structured data: session from the SD param, every field mapped', async () => {
    logger([
      '--rfc5424',
      '-t',
      `${run}udp`,
      '-p',
      'local3.err',
      '--msgid',
      'LOGIN',
      '--sd-id',
      'meta@32473',
      '--sd-param',
      `session="${run}-s1"`,
      '--sd-param',
      'user="ann"',
      'disk "full" on /dev/sda1',
    ]);
    const events = await until('the UDP event', async () => {
      const e = await readAll(srv.url, `${run}-s1`);
      return e.length > 0 ? e : undefined;
    });
    assert.equal(events.length, 1);
    const e = events[0];
    assert.equal(e.session, `${run}-s1`);
    assert.equal(e.key, 'LOGIN');
    assert.equal(e.value, 'disk "full" on /dev/sda1');
    assert.equal(e.component, `${run}udp`);
    assert.equal(e.level, 'error');
    assert.ok(Math.abs(Date.parse(e.ts) - Date.now()) < 60_000, `ts ${e.ts} is now`);
    assert.equal(e.attrs.facility, 'local3');
    assert.equal(e.attrs.severity, 'err');
    assert.equal(e.attrs.hostname, host);
    assert.equal(e.attrs.msgid, 'LOGIN');
    assert.equal(e.attrs.peer, '127.0.0.1');
    assert.equal(e.attrs.sd['meta@32473'].user, 'ann');
    assert.equal(e.attrs.sd['meta@32473'].session, `${run}-s1`);
  });

  test('TCP octet-counted, RSYSLOG_ForwardFormat (TAG without colon): session from hostname/app', async () => {
    logger(['-t', `${run}oct`, '-p', 'user.warning', 'first line over tcp']);
    logger(['-t', `${run}oct`, '-p', 'daemon.info', 'second']);
    const session = `${host}/${run}oct`;
    const events = await until('the TCP events', async () => {
      const e = await readAll(srv.url, session);
      return e.length >= 2 ? e : undefined;
    });
    assert.deepEqual(
      events.map((e) => [e.key, e.value, e.component, e.level, e.attrs.facility, e.attrs.severity, e.attrs.hostname]),
      [
        ['syslog', 'first line over tcp', `${run}oct`, 'warn', 'user', 'warning', host],
        ['syslog', 'second', `${run}oct`, 'info', 'daemon', 'info', host],
      ],
    );
  });

  test('TCP newline-framed, RSYSLOG_TraditionalForwardFormat (BSD timestamp)', async () => {
    logger(['-t', `${run}lf`, '-p', 'local0.debug', 'traditional']);
    const session = `${host}/${run}lf`;
    const events = await until('the LF-framed event', async () => {
      const e = await readAll(srv.url, session);
      return e.length > 0 ? e : undefined;
    });
    assert.deepEqual([events[0].value, events[0].component, events[0].level, events[0].attrs.facility], ['traditional', `${run}lf`, 'debug', 'local0']);
    // BSD timestamps have whole seconds and no zone: within a minute of now in this server's zone.
    assert.ok(Math.abs(Date.parse(events[0].ts) - Date.now()) < 60_000);
  });
});

describe('syslog garbage', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ syslogUdp: '127.0.0.1:0', syslogTcp: '127.0.0.1:0' });
  });
  after(() => srv.dispose());

  test('garbage datagrams and frames are counted as invalid_syslog; both receivers keep storing', async () => {
    const s = createSocket('udp4');
    for (const d of ['not syslog', '<999>x', '', '<13>1 2003-13-45T99:99:99Z h a - - - bad time']) {
      await new Promise<void>((r) => s.send(Buffer.from(d), srv.syslogUdpPort as number, '127.0.0.1', () => r()));
    }
    await new Promise<void>((r) =>
      s.send(Buffer.from('<14>1 - h garbage-ok - - [x@1 session="garbage-udp"] still here'), srv.syslogUdpPort as number, '127.0.0.1', () => r()),
    );
    s.close();
    const tcpSend = async (text: string) => {
      const sock = connect(srv.syslogTcpPort as number, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      sock.end(text);
      await new Promise((r) => sock.once('close', r));
    };
    // Two bad lines, then a valid frame on the same connection; then a connection that ends inside an octet-counted frame.
    const good = '<14>1 - h a - - [x@1 session="garbage-tcp"] tcp survives';
    await tcpSend(`junk line\n\u0000\u0001\u0002\n${Buffer.byteLength(good)} ${good}`);
    await tcpSend('12 <13>cut');
    const udp = await until('the UDP survivor', async () => ((await readAll(srv.url, 'garbage-udp')).length === 1 ? true : undefined));
    const tcp = await until('the TCP survivor', async () => ((await readAll(srv.url, 'garbage-tcp')).length === 1 ? true : undefined));
    assert.ok(udp && tcp);
    // 4 bad datagrams (the empty one included), 2 bad lines, 1 cut frame.
    assert.equal(await metric(srv, 'logsrv_dropped_total', 'invalid_syslog'), 4 + 2 + 1);
    assert.equal(await metric(srv, 'logsrv_accepted_total'), 2);
  });
});

describe('syslog receivers at start', () => {
  test('off loopback without --insecure is refused; a taken address stops the start naming it', async () => {
    const { ConfigError, StartError } = await import('@logsrv/server');
    await assert.rejects(
      startTestServer({ syslogUdp: '0.0.0.0:0' }),
      (e: Error) => e instanceof ConfigError && /refusing syslog on 0\.0\.0\.0 \(--syslog-udp\)/.test(e.message),
    );
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as { port: number }).port;
    try {
      await assert.rejects(
        startTestServer({ syslogTcp: `127.0.0.1:${port}` }),
        (e: Error) =>
          e instanceof StartError &&
          e.message === `cannot listen on syslog TCP 127.0.0.1:${port}: the address is in use (another logsrv?); pick another with --syslog-udp/--syslog-tcp`,
      );
    } finally {
      taken.close();
    }
  });
});

describe('syslog TCP connection cap', () => {
  test('connections past --max-connections-per-ip are closed at once and counted; the others keep working', async () => {
    const srv = await startTestServer({ syslogTcp: '127.0.0.1:0', maxConnectionsPerIp: 2 });
    try {
      const open = async () => {
        const s = connect(srv.syslogTcpPort as number, '127.0.0.1');
        s.on('error', () => {});
        await new Promise((r) => s.once('connect', r));
        return s;
      };
      const a = await open();
      const b = await open();
      const c = await open();
      await new Promise((r) => c.once('close', r));
      assert.equal(await metric(srv, 'logsrv_dropped_total', 'too_many_connections'), 1);
      a.end('<13>1 - h a - - [x@1 session="cap"] from a\n');
      b.end('<13>1 - h a - - [x@1 session="cap"] from b\n');
      const values = await until('both events', async () => {
        const e = await readAll(srv.url, 'cap');
        return e.length === 2 ? e.map((x) => x.value).sort() : undefined;
      });
      assert.deepEqual(values, ['from a', 'from b']);
    } finally {
      await srv.dispose();
    }
  });
});
