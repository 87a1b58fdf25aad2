/**
 * The UDP receive thread. It owns the socket and does everything a datagram needs short of
 * storage: rate limit, size and UTF-8 checks, JSON parsing, validation, normalization. Valid events
 * leave in batches (packed: one string and a length table, cheap to clone) for the main thread, which only hands them to the
 * queue.
 *
 * Why a thread of its own: the kernel buffer in front of a socket holds a few thousand datagrams,
 * i.e. tens of milliseconds at the rates UDP producers send. On the main thread any pause — a
 * large HTTP body being parsed, a batch being cloned for the writer, a major GC — lets it overflow.
 * Here nothing else runs, so the socket is read whenever this thread gets a core.
 *
 * How it is read: on Linux with the native reader built (`native/udp_recv.c`, `udp-native.ts`), by
 * a reading thread of the addon's own into a ring (RING_PER_RECV_BUFFER), from which this thread
 * takes up to a few hundred datagrams per JavaScript call: then not even this thread's own pauses
 * (a wait for a core, its garbage collection) overflow the socket buffer. Else (or with
 * `--udp-reader dgram`) node:dgram, one system call, buffer, address object and callback per
 * datagram, on this thread. At 100k datagrams/s this thread spent ~8 µs per datagram with
 * node:dgram and ~2.8 µs with recvmmsg on this thread (same machine and load, one run each); with
 * the reading thread, 2.18 µs here and 0.61 µs there per stored event (`bench udp-ingest`,
 * 2026-12-07, medians of 3).
 *
 * Memory stays bounded: batches handed over but not yet taken by the main thread are capped; past
 * the cap, events are dropped and counted as `queue_full`, exactly as a full queue would.
 */
import { isUtf8 } from 'node:buffer';
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { NormalizedEvent } from '@logsrv/protocol';
import { packEvents } from '../batch/index.js';
import { createMemoryLimiter, type SourceLimiter } from '../limits/rate-limit.js';
import { nameThisThread } from '../thread-name.js';
import { acceptLine, acceptValue, isRejection } from './accept.js';
import { SessionTemplate } from './session-template.js';
import { parseSyslog } from './syslog/parse-syslog.js';
import { syslogCandidate } from './syslog/to-event.js';
import type { ToUdpWorker, UdpBatch, UdpWorkerData } from './udp-messages.js';
import { ADDR_BYTES, loadNativeUdp, type NativeReader, type NativeUdp } from './udp-native.js';

const o = workerData as UdpWorkerData;
nameThisThread(o.format === 'syslog' ? 'logsrv-syslog' : 'logsrv-udp');
const port = parentPort;
if (!port) throw new Error('udp-worker must run in a worker thread');

/** Longest an event waits on this thread before it is handed over. */
const HANDOVER_MS = 5;

/** Marks an event that came without a session; the main thread resolves it from the registry. */
const UNRESOLVED = '\u0000unresolved';

const limiter: SourceLimiter | null = o.rateLimit ? createMemoryLimiter(o.rateLimit.perSecond, o.rateLimit.burst) : null;

let batch: NormalizedEvent[] = [];
let batchBytes = 0;
let received = 0;
let drops = new Map<string, number>();
let blocked = new Map<string, number>();
let scheduled = false;
/** Events handed over and not yet taken by the main thread. */
let unacked = 0;
let closing = false;

/** Reads the socket: the native recvmmsg reader where it is built and wanted, else node:dgram. */
interface Receiver {
  /** Stops reading; `done` runs once no more datagrams will arrive. */
  close(done: () => void): void;
}

/** One datagram from `peer`; `msg` may be reused after this returns unless `owned`. */
function onDatagram(msg: Buffer, peer: string, owned: boolean): void {
  if (!limiter) {
    read(msg, peer);
    return;
  }
  const kept = owned ? msg : Buffer.from(msg);
  // Decisions resolve in call order, so datagrams from one source keep their order.
  limiter.consume(peer).then((d) => {
    if (d.allowed) read(kept, peer);
    else {
      blocked.set(peer, (blocked.get(peer) ?? 0) + 1);
      drop('rate_limited', o.format === 'syslog' ? 1 : countLines(kept));
    }
  });
}

function startDgram(why: string): Receiver {
  const socket = createSocket({ type: o.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: o.recvBufferBytes });
  socket.on('message', (msg, rinfo) => onDatagram(msg, rinfo.address, true));
  socket.once('error', (err) => port?.postMessage({ type: 'failed', message: err.message }));
  socket.bind(o.port, o.host, () => {
    socket.removeAllListeners('error');
    socket.on('error', (err) => port?.postMessage({ type: 'warn', message: `udp socket error: ${err.message}` }));
    // Linux reports twice the size it grants (the kernel's bookkeeping share).
    port?.postMessage({ type: 'bound', port: socket.address().port, grantedBytes: socket.getRecvBufferSize() / 2, reader: 'dgram', why });
  });
  return { close: (done) => socket.close(done) };
}

/**
 * Reads with the native reader: each call hands over up to `slots` datagrams, all in one buffer.
 * A slot holds one byte more than the largest datagram accepted, so a larger one shows as too
 * large (the kernel reports its real length) without being read whole.
 */
function startNative(n: NativeUdp): Receiver | null {
  const slotBytes = Math.min(o.maxDatagramBytes + 1, 65_536);
  const slots = Math.max(16, Math.min(256, Math.floor(NATIVE_BUFFER_BYTES / slotBytes)));
  const data = Buffer.allocUnsafeSlow(slots * slotBytes);
  const lens = new Int32Array(slots);
  const addrs = new Uint8Array(slots * ADDR_BYTES);
  const addrView = new DataView(addrs.buffer);
  // Source addresses are text only when something needs them (rate limits, syslog); IPv4 ones are cached.
  const needPeer = limiter !== null || o.format === 'syslog';
  const v4Names = new Map<number, string>();
  const peerOf = (i: number): string => {
    if (!needPeer) return '';
    if (addrs[i * ADDR_BYTES] !== 4) return n.formatAddress(addrs, i);
    const key = addrView.getUint32(i * ADDR_BYTES + 4);
    let name = v4Names.get(key);
    if (name === undefined) {
      if (v4Names.size >= 65_536) v4Names.clear();
      name = n.formatAddress(addrs, i);
      v4Names.set(key, name);
    }
    return name;
  };
  let reader: NativeReader;
  try {
    reader = n.open(
      o.host.includes(':'),
      o.host,
      o.port,
      o.recvBufferBytes,
      slotBytes,
      data,
      lens,
      addrs,
      (count) => {
        const lost = n.takeDrops(reader);
        if (lost > 0) drop('socket_overflow', lost);
        for (let i = 0; i < count; i++) {
          const at = i * slotBytes;
          onDatagram(data.subarray(at, at + Math.min(lens[i] as number, slotBytes)), peerOf(i), false);
        }
      },
      RING_PER_RECV_BUFFER * o.recvBufferBytes,
      RECEIVE_SLICE_NS,
    );
  } catch (err) {
    port?.postMessage({ type: 'failed', message: (err as Error).message });
    return null;
  }
  port?.postMessage({ type: 'bound', port: n.localPort(reader), grantedBytes: n.recvBufferSize(reader) / 2, reader: 'recvmmsg', why: '' });
  return {
    close(done) {
      n.close(reader);
      setImmediate(done);
    },
  };
}

/**
 * The time slice the native reader's reading thread asks of the kernel, in ns: the least Linux
 * grants (0.1 ms; its default is 0.7 ms times 1 + log2 of the cores, 1.4 ms on 2). Under Linux's
 * EEVDF scheduler (6.6 and later; a slice of one's own since 6.12, no privilege needed) a shorter
 * slice is an earlier deadline: woken by a readable socket, the thread gets a core before threads
 * that have run their slice, instead of waiting for them to use it up. Its share of the CPU is
 * unchanged (that is the nice value's, which stays the process's). It is the thread whose lateness
 * loses data: the kernel drops what the socket buffer cannot hold (`socket_overflow`). Given to
 * this (JavaScript) thread while it read the socket itself, in `bench udp-ingest` at 100k
 * datagrams/s on a noisy 2-core VM (2026-12-07), 11 interleaved pairs of runs of 3 repetitions:
 * loss per run (median of its repetitions) 0.59 % with it against 2.56 % without, lower in 8 pairs
 * of 11; over the 33 repetitions each, median 1.4 % against 3.1 %, mean 3.7 % against 7.5 %. The
 * same slice for the main thread and the writer as well showed no further gain through the noise.
 * Kernels before 6.12 keep their default and the call changes nothing.
 */
const RECEIVE_SLICE_NS = 100_000;

/**
 * The native reader's ring, as a multiple of `--udp-recv-buffer-bytes` (16 MiB by default). Its
 * reading thread only moves datagrams from the socket into the ring (~230 bytes each for a
 * 200-byte datagram, against the ~1 KiB the kernel charges the socket buffer for one), and this
 * thread parses them from there; when this thread waits for a core, or collects its garbage, the
 * ring holds what arrives meanwhile: ~0.7 s at 100k datagrams/s, where the kernel's buffer held
 * ~80 ms. A datagram that finds the ring full is dropped and counted as `socket_overflow`, as the
 * kernel counts one that finds the socket buffer full.
 */
const RING_PER_RECV_BUFFER = 4;

/** Memory of the native reader's slots (at least 16 slots whatever their size). */
const NATIVE_BUFFER_BYTES = 2 * 1024 * 1024;

function startReceiver(): Receiver | null {
  if (o.reader === 'dgram') return startDgram('--udp-reader dgram');
  if (isIP(o.host) === 0) return startDgram(`${o.host} is not an IP address`);
  const { native, why } = loadNativeUdp();
  return native ? startNative(native) : startDgram(why);
}

port.on('message', (m: ToUdpWorker) => {
  if (m.type === 'ack') unacked -= m.events;
  else if (m.type === 'close' && !closing) {
    closing = true;
    if (!receiver) {
      port.postMessage({ type: 'closed' });
      return;
    }
    receiver.close(() => {
      // Datagrams already read are still parsed and handed over; rate-limit decisions settle first.
      setImmediate(() => {
        flush();
        port.postMessage({ type: 'closed' });
      });
    });
  }
});

function drop(reason: string, n = 1): void {
  drops.set(reason, (drops.get(reason) ?? 0) + n);
  schedule();
}

/**
 * Hands over what gathered at most {@link HANDOVER_MS} later (a full batch goes at once). Not on the
 * next turn of the loop: at tens of thousands of datagrams per second a turn reads only a few, and
 * a hand-over per turn cost more than the parsing (a profile: postMessage and its cloning ~35 %).
 */
function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setTimeout(flush, HANDOVER_MS);
}

const syslogSession = o.format === 'syslog' ? new SessionTemplate(o.syslogSession) : null;
const read = syslogSession ? (msg: Buffer, peer: string) => parseSyslogDatagram(msg, peer, syslogSession) : parse;

/**
 * One syslog message per datagram (RFC 5426 §3.1). Its text is decoded leniently: RFC 5424 lets
 * MSG be any octets, so invalid UTF-8 becomes U+FFFD rather than a drop.
 */
function parseSyslogDatagram(msg: Buffer, peer: string, template: SessionTemplate): void {
  received++;
  if (msg.length > o.maxDatagramBytes) drop('datagram_too_large');
  else {
    const m = parseSyslog(msg.toString('utf8'));
    if ('error' in m) drop('invalid_syslog');
    else {
      const c = syslogCandidate(m, template, peer);
      const a = acceptValue(c.event, () => c.fallback ?? UNRESOLVED);
      if (isRejection(a)) drop(a.reason);
      else {
        batch.push(a);
        batchBytes += a.value.length + (a.attrs?.length ?? 0);
      }
    }
  }
  if (batch.length >= o.batchEvents) handOver();
  schedule();
}

const receiver = startReceiver();

function parse(msg: Buffer): void {
  if (msg.length > o.maxDatagramBytes) {
    received++;
    drop('datagram_too_large');
    return;
  }
  if (isUtf8(msg)) parseText(msg.toString('utf8'));
  else {
    // A bad line never sinks its datagram (STYLE rule 4): the whole-datagram check above is the
    // fast path; only a datagram that fails it is checked line by line, on the raw bytes (a
    // newline byte never occurs inside a UTF-8 sequence, so splitting first is exact).
    let start = 0;
    for (;;) {
      const at = msg.indexOf(0x0a, start);
      const line = msg.subarray(start, at === -1 ? msg.length : at);
      if (isUtf8(line)) parseText(line.toString('utf8'));
      else {
        received++;
        drop('invalid_utf8');
      }
      if (at === -1) break;
      start = at + 1;
    }
  }
  if (batch.length >= o.batchEvents) handOver();
  schedule();
}

/** The lines of valid UTF-8 text: each becomes an event or a counted drop. */
function parseText(text: string): void {
  let from = 0;
  for (;;) {
    const at = text.indexOf('\n', from);
    const line = at === -1 ? text.slice(from) : text.slice(from, at);
    if (line.trim().length > 0) {
      received++;
      if (line.length * 3 > o.maxLineBytes && Buffer.byteLength(line) > o.maxLineBytes) drop('line_too_large');
      else {
        const a = acceptLine(line, resolveLater);
        if (isRejection(a)) drop(a.reason);
        else {
          batch.push(a);
          batchBytes += line.length;
        }
      }
    }
    if (at === -1) break;
    from = at + 1;
  }
}

function resolveLater(): string {
  return UNRESOLVED;
}

/** Posts the current batch with the counts gathered since the last one. */
function handOver(): void {
  const events = batch;
  const bytes = batchBytes;
  batch = [];
  batchBytes = 0;
  if (events.length > 0 && unacked + events.length > o.maxUnackedEvents) {
    drops.set('queue_full', (drops.get('queue_full') ?? 0) + events.length);
    events.length = 0;
  }
  if (events.length === 0 && received === 0 && drops.size === 0 && blocked.size === 0) return;
  const unresolved: number[] = [];
  for (let i = 0; i < events.length; i++) if ((events[i] as NormalizedEvent).session === UNRESOLVED) unresolved.push(i);
  const msg: UdpBatch = {
    type: 'batch',
    packed: events.length > 0 ? packEvents(events) : null,
    bytes,
    unresolved,
    received,
    drops: [...drops],
    blocked: [...blocked],
  };
  received = 0;
  drops = new Map();
  blocked = new Map();
  unacked += events.length;
  port?.postMessage(msg);
}

function flush(): void {
  scheduled = false;
  handOver();
}

/** Events a datagram claimed to hold, for drop accounting: its non-blank lines (at least 1). */
function countLines(msg: Buffer): number {
  let n = 0;
  let start = 0;
  for (;;) {
    const at = msg.indexOf(0x0a, start);
    const end = at === -1 ? msg.length : at;
    for (let i = start; i < end; i++) {
      const b = msg[i] as number;
      if (b !== 0x20 && b !== 0x09 && b !== 0x0d) {
        n++;
        break;
      }
    }
    if (at === -1) break;
    start = at + 1;
  }
  return Math.max(n, 1);
}
