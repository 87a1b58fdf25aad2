/**
 * rsyslog as a UDP ingest baseline: a private `rsyslogd` (Debian package) with its own config in a
 * temp dir — imudp on one loopback port, omfile writing each message's raw text as a line, no
 * other input, nothing but 127.0.0.1 — so its stored rate is the line count of its output file.
 *
 * rsyslog is installed at bench time when absent (`apt-get install -y rsyslog`); the package's own
 * service is not started by us, and the instance here is stopped with SIGTERM when the benchmark
 * ends.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const RSYSLOGD = '/usr/sbin/rsyslogd';

/** The rsyslogd binary, installing the Debian package if needed; a reason string when impossible. */
export function ensureRsyslogd(log: (m: string) => void): { path: string; version: string } | { missing: string } {
  if (!existsSync(RSYSLOGD)) {
    log('  rsyslogd not found: apt-get install -y rsyslog (baseline for udp-ingest)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () => execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'rsyslog'], { env, stdio: 'pipe', timeout: 600_000 });
    try {
      install();
    } catch {
      try {
        execFileSync('apt-get', ['update'], { env, stdio: 'pipe', timeout: 600_000 });
        install();
      } catch (err) {
        return { missing: `apt-get install rsyslog failed: ${(err as Error).message.split('\n')[0]}` };
      }
    }
    if (!existsSync(RSYSLOGD)) return { missing: 'rsyslog installed but /usr/sbin/rsyslogd is missing' };
  }
  let version = 'unknown';
  try {
    version = /rsyslogd\s+([\d.]+)/.exec(execFileSync(RSYSLOGD, ['-v'], { encoding: 'utf8' }))?.[1] ?? version;
  } catch {
    // -v exits non-zero on some builds; the version is only for the notes.
  }
  return { path: RSYSLOGD, version };
}

/** A UDP port that was free a moment ago. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

/** Datagrams the kernel dropped at a full receive buffer, for the UDP socket bound to `port` (Linux). */
export function udpSocketDrops(port: number): number | null {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(hexPort)) return Number(cols[cols.length - 1]);
    }
  }
  return null;
}

export interface RsyslogInstance {
  pid: number;
  port: number;
  /** Lines in the output file so far (read incrementally). */
  lines(): number;
  stop(): Promise<void>;
}

export async function startRsyslog(bin: string, dir: string, recvBufferBytes: number): Promise<RsyslogInstance> {
  const port = await freeUdpPort();
  const out = join(dir, 'out.log');
  const conf = join(dir, 'rsyslog.conf');
  // Defaults of the package where they matter (one imudp thread, the main queue, omfile); only
  // the receive buffer is set, to the size logsrv asks for, so both see the same kernel buffer.
  writeFileSync(
    conf,
    [
      `global(workDirectory="${dir}" maxMessageSize="64k")`,
      'module(load="imudp")',
      `input(type="imudp" address="127.0.0.1" port="${port}" rcvbufSize="${recvBufferBytes}" ruleset="bench")`,
      'template(name="raw" type="string" string="%rawmsg%\\n")',
      'ruleset(name="bench") {',
      `  action(type="omfile" file="${out}" template="raw" asyncWriting="on" ioBufferSize="1m" flushOnTXEnd="off" flushInterval="1")`,
      '}',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(bin, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (c: Buffer) => {
    output = (output + c.toString('utf8')).slice(-16_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));

  const deadline = Date.now() + 15_000;
  while (udpSocketDrops(port) === null) {
    if (child.exitCode !== null) throw new Error(`rsyslogd exited during start (code ${child.exitCode}):\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`rsyslogd did not bind 127.0.0.1:${port} within 15 s:\n${output}`);
    }
    await sleep(50);
  }

  let offset = 0;
  let lines = 0;
  const buf = Buffer.allocUnsafe(1024 * 1024);
  return {
    pid: child.pid as number,
    port,
    lines() {
      if (!existsSync(out)) return 0;
      const fd = openSync(out, 'r');
      try {
        for (;;) {
          const n = readSync(fd, buf, 0, buf.length, offset);
          if (n === 0) break;
          for (let i = 0; i < n; i++) if (buf[i] === 0x0a) lines++;
          offset += n;
        }
      } finally {
        closeSync(fd);
      }
      return lines;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
