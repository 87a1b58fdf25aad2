// SSE fan-out clients for `tail-fanout`, run as a child process (argv[2] is its JSON config:
// { url, clients, sampleEvery }). Opens `clients` TCP connections to `url`, each sending one
// `GET` for the event stream, and tells the parent over IPC when every one has its preamble:
// { type: 'ready' }.
// Every client counts the event frames it gets; one client in `sampleEvery` also decodes them and
// records latency = receipt time − the monotonic send time carried in the value ("<phase><i> <ns>"),
// by phase (the value's first letter).
// On { type: 'report' } (or when all clients got `event: end`) it answers
// { type: 'result', clients, ended, minEvents, maxEvents, latencies: { <phase>: ms[] } } and exits.
//
// Cost: 10,000 clients at 100 events/s are ~230 MB/s of frames through two processes on the
// machine that also runs the server, so a client must cost as little per byte and per read as a
// real viewer's would not matter. Hence raw sockets (no HTTP client parser and stream per read:
// the server's tail body is neither chunked nor compressed — checked on the response head — and
// ends when the connection closes), and frames counted on the bytes (Buffer.indexOf, a native
// search) without decoding them to text, except on the sampled clients. The bytes checked are the
// same: every `\nevent: event\n` and the `\nevent: end\n` of each stream.
import net from 'node:net';

const cfg = JSON.parse(process.argv[2]);
const target = new URL(cfg.url);
const REQUEST = Buffer.from(
  `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n`,
);
const EVENT = Buffer.from('\nevent: event\n');
const END = Buffer.from('\nevent: end\n');
const HEAD_END = Buffer.from('\r\n\r\n');
/** Bytes kept from the end of one read to find a needle that straddles two reads. */
const KEEP = EVENT.length - 1;
const latencies = {};
const counts = new Int32Array(cfg.clients);
/** 1 once a client got its first body bytes. */
const up = new Uint8Array(cfg.clients);
let ready = 0;
let ended = 0;
let errors = 0;
let reported = false;
const socks = [];

/** Occurrences of `needle` in `buf` from `from`. */
function countOf(buf, needle, from = 0) {
  let n = 0;
  let at = buf.indexOf(needle, from);
  while (at !== -1) {
    n++;
    at = buf.indexOf(needle, at + needle.length);
  }
  return n;
}

function report() {
  if (reported) return;
  reported = true;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (const c of counts) {
    if (c < min) min = c;
    if (c > max) max = c;
  }
  process.send({ type: 'result', clients: cfg.clients, ended, errors, minEvents: min, maxEvents: max, latencies }, () => {
    for (const s of socks) s?.destroy();
    process.exit(0);
  });
}

function fail(why) {
  process.stderr.write(`sse-clients: ${why}\n`);
  process.exit(1);
}

function open(i) {
  const sampled = i % cfg.sampleEvery === 0;
  connecting++;
  const sock = net.connect({ host: target.hostname, port: Number(target.port) });
  sock.setNoDelay(true);
  let head = Buffer.alloc(0);
  let inBody = false;
  /** The last KEEP bytes seen (a new line before the first: as if the stream began on one). */
  let carry = Buffer.from('\n');
  let gotEnd = false;
  /** Sampled clients: text of a frame cut by a read. */
  let partial = '';

  const body = (chunk, now) => {
    if (chunk.length === 0) return;
    // Needles that straddle the previous read, searched in carry + the first bytes of this one
    // (both shorter than EVENT, so nothing is counted twice), then the ones inside this read.
    const seam = Buffer.concat([carry, chunk.subarray(0, KEEP)]);
    counts[i] += countOf(seam, EVENT) + countOf(chunk, EVENT);
    if (!gotEnd && (seam.indexOf(END) !== -1 || chunk.indexOf(END) !== -1)) {
      gotEnd = true;
      ended++;
      if (ended === cfg.clients) report();
    }
    // A copy: a view would keep the whole read (64 KiB) alive per client.
    carry = chunk.length >= KEEP ? Buffer.from(chunk.subarray(chunk.length - KEEP)) : Buffer.concat([carry, chunk]).subarray(-KEEP);
    if (!sampled) return;
    let text = partial + chunk.toString('latin1');
    let cut = text.indexOf('\n\n');
    while (cut !== -1) {
      const frame = text.slice(0, cut);
      text = text.slice(cut + 2);
      cut = text.indexOf('\n\n');
      const at = frame.indexOf('"value":"');
      if (at === -1 || !frame.includes('event: event')) continue;
      const v = frame.slice(at + 9, frame.indexOf('"', at + 9));
      const phase = v[0];
      latencies[phase] ??= [];
      latencies[phase].push(Number(now - BigInt(v.slice(v.indexOf(' ') + 1))) / 1e6);
    }
    partial = text;
  };

  sock.on('connect', () => sock.write(REQUEST));
  sock.on('data', (chunk) => {
    const now = process.hrtime.bigint();
    if (inBody) {
      body(chunk, now);
      return;
    }
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const at = head.indexOf(HEAD_END);
    if (at === -1) return;
    const text = head.subarray(0, at).toString('latin1');
    if (!text.startsWith('HTTP/1.1 200')) fail(`tail answered ${text.split('\r\n')[0]}`);
    // The body is read as raw bytes: it must be neither chunked nor compressed.
    if (/\r\n(transfer-encoding|content-encoding):/i.test(text)) fail(`unexpected response head:\n${text}`);
    inBody = true;
    up[i] = 1;
    connecting--;
    if (++ready === cfg.clients) process.send({ type: 'ready' });
    else more();
    body(head.subarray(at + HEAD_END.length), now);
    head = Buffer.alloc(0);
  });
  sock.on('error', () => {
    errors++;
  });
  sock.on('close', () => {
    // Refused or reset while connecting (a full accept backlog on a loaded machine): retry.
    if (!up[i] && !reported) {
      connecting--;
      setTimeout(() => open(i), 200);
    }
  });
  socks[i] = sock;
}

// At most MAX_CONNECTING connections wait for their first bytes at a time, so the server's
// accept backlog (511 by default) is never flooded.
const MAX_CONNECTING = 200;
let connecting = 0;
let next = 0;
function more() {
  while (next < cfg.clients && connecting < MAX_CONNECTING) open(next++);
}
more();
process.on('message', (m) => {
  if (m.type === 'report') report();
});
