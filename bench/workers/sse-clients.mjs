// SSE fan-out clients for `tail-fanout`, run as a child process (argv[2] is its JSON config:
// { url, clients, sampleEvery }). Opens `clients` connections to `url` (no keep-alive agent, one
// socket each) and tells the parent over IPC when every one has its preamble: { type: 'ready' }.
// Every client counts the event frames it gets; one client in `sampleEvery` also parses them and
// records latency = receipt time − the monotonic send time carried in the value ("<phase><i> <ns>"),
// by phase (the value's first letter).
// On { type: 'report' } (or when all clients got `event: end`) it answers
// { type: 'result', clients, ended, minEvents, maxEvents, latencies: { <phase>: ms[] } } and exits.
import http from 'node:http';

const cfg = JSON.parse(process.argv[2]);
const EVENT = '\nevent: event\n';
const END = '\nevent: end\n';
const KEEP = EVENT.length - 1;
const latencies = {};
const counts = new Int32Array(cfg.clients);
/** 1 once a client got its first bytes. */
const up = new Uint8Array(cfg.clients);
let ready = 0;
let ended = 0;
let errors = 0;
let reported = false;
const reqs = [];

function countOf(text, needle) {
  let n = 0;
  let at = text.indexOf(needle);
  while (at !== -1) {
    n++;
    at = text.indexOf(needle, at + needle.length);
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
    for (const r of reqs) r.destroy();
    process.exit(0);
  });
}

function open(i) {
  const sampled = i % cfg.sampleEvery === 0;
  connecting++;
  const req = http.get(cfg.url, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
    res.setEncoding('utf8');
    let first = true;
    let carry = '\n';
    let buf = '';
    res.on('data', (s) => {
      const now = process.hrtime.bigint();
      if (first) {
        first = false;
        up[i] = 1;
        connecting--;
        if (++ready === cfg.clients) process.send({ type: 'ready' });
        else more();
      }
      const text = carry + s;
      counts[i] += countOf(text, EVENT);
      if (text.includes(END)) {
        ended++;
        if (ended === cfg.clients) report();
      }
      carry = text.slice(-KEEP);
      if (!sampled) return;
      buf += s;
      let cut = buf.indexOf('\n\n');
      while (cut !== -1) {
        const frame = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        cut = buf.indexOf('\n\n');
        const at = frame.indexOf('"value":"');
        if (at === -1 || !frame.includes('event: event')) continue;
        const v = frame.slice(at + 9, frame.indexOf('"', at + 9));
        const phase = v[0];
        latencies[phase] ??= [];
        latencies[phase].push(Number(now - BigInt(v.slice(v.indexOf(' ') + 1))) / 1e6);
      }
    });
    res.on('error', () => {});
  });
  req.on('error', () => {
    // Refused or reset while connecting (a full accept backlog on a loaded machine): retry.
    errors++;
    if (!up[i] && !reported) {
      connecting--;
      setTimeout(() => open(i), 200);
    }
  });
  reqs[i] = req;
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
