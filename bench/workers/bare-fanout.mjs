// The bare fan-out baseline of `tail-fanout`, run as a child process: the least a Node.js server
// can do to forward each posted line to thousands of SSE clients on this machine — no store, no
// commit, no pacing. It answers the same requests the benchmark makes of logsrv:
// - `GET …/tail`: an event stream, not chunked (as logsrv's), kept open;
// - `POST /v1/events` with one NDJSON line: answered 200 at once; the line becomes an event frame
//   (`id`, `event: event`, `data:` the line) for every open stream. A `session.end` line is also
//   followed by `event: end`, and the streams close.
// Frames are written in passes, back to back: a pass writes everything posted since the last one
// to every socket (one write each), 512 sockets per turn of the event loop so posts are taken
// between slices, and the next pass starts as soon as one ends if anything is waiting — fan-out
// takes as much of the thread as it needs.
// It tells the parent its port over IPC ({ type: 'listening', port }) and exits on { type: 'stop' }.
import http from 'node:http';

const SLICE = 512;
const streams = [];
let pending = [];
let ending = false;
let passing = false;
let id = 0;

function pass() {
  if (pending.length === 0) {
    passing = false;
    return;
  }
  passing = true;
  const buf = Buffer.from(pending.join(''));
  pending = [];
  const end = ending;
  const targets = streams.slice();
  let i = 0;
  const slice = () => {
    const stop = Math.min(targets.length, i + SLICE);
    for (; i < stop; i++) {
      const s = targets[i];
      s.write(buf);
      if (end) s.end();
    }
    if (i < targets.length) setImmediate(slice);
    else setImmediate(pass);
  };
  slice();
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url.includes('/tail')) {
    res.useChunkedEncodingByDefault = false;
    res.shouldKeepAlive = false;
    req.socket.setNoDelay(true);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'close' });
    res.write('retry: 1000\n\n');
    streams.push(res.socket);
    return;
  }
  if (req.method === 'POST' && req.url === '/v1/events') {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => {
      const line = Buffer.concat(parts).toString('utf8').trim();
      id++;
      pending.push(`id: ${id}\nevent: event\ndata: ${line}\n\n`);
      if (line.includes('"key":"session.end"')) {
        pending.push(`event: end\ndata: {"id":"${id}"}\n\n`);
        ending = true;
      }
      res.end('{}');
      if (!passing) pass();
    });
    return;
  }
  res.writeHead(404).end();
});
server.keepAliveTimeout = 60_000;
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.send({ type: 'listening', port: server.address().port });
});
process.on('message', (m) => {
  if (m.type === 'stop') {
    for (const s of streams) s.destroy();
    server.close();
    process.exit(0);
  }
});
