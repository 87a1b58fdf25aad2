// The floor of `live-e2e`: the same hops as a line under `logsrv run` takes to a live viewer, in
// bare Node.js — a reader process in front of the command, an HTTP POST to a server process, an
// SSE stream to the viewer — with nothing stored, parsed or encoded on the way.
// - `node bare-relay.mjs serve`: the server. `POST /` answers 200 at once and writes the body's
//   lines to every open `GET /` stream as `data:` frames (one write per POST); `POST /end` ends
//   the streams. It tells the parent its port over IPC ({ type: 'listening', port }); the parent
//   kills it when done.
// - `node bare-relay.mjs run URL COMMAND [ARGS...]`: the reader. Spawns the command (stdio 'pipe'
//   like `logsrv run`), sends what it reads as one POST per chunk on a keep-alive connection, one
//   request at a time (what came in meanwhile goes in the next), then POSTs /end.
import { spawn } from 'node:child_process';
import http from 'node:http';

if (process.argv[2] === 'serve') {
  const streams = new Set();
  const server = http.createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    const parts = [];
    req.on('data', (b) => parts.push(b));
    req.on('end', () => {
      if (req.url === '/end') {
        for (const s of streams) s.end('event: end\ndata: \n\n');
      } else {
        const lines = Buffer.concat(parts).toString('utf8').split('\n');
        let frames = '';
        for (const l of lines) if (l !== '') frames += `data: ${l}\n\n`;
        for (const s of streams) s.write(frames);
      }
      res.end('{}');
    });
  });
  server.listen(0, '127.0.0.1', () => process.send?.({ type: 'listening', port: server.address().port }));
} else {
  const url = process.argv[3];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const post = (path, body) =>
    new Promise((resolve, reject) => {
      const req = http.request(`${url}${path}`, { method: 'POST', agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(body);
    });
  // Whole lines only: a read may end inside a line; its start waits for the rest.
  let waiting = [];
  let sending = null;
  const pump = async () => {
    for (;;) {
      const all = Buffer.concat(waiting);
      const cut = all.lastIndexOf(10) + 1;
      if (cut === 0) break;
      waiting = cut < all.length ? [all.subarray(cut)] : [];
      await post('/', all.subarray(0, cut));
    }
    sending = null;
  };
  const child = spawn(process.argv[4], process.argv.slice(5), { stdio: ['inherit', 'pipe', 'inherit'] });
  child.stdout.on('data', (b) => {
    waiting.push(b);
    sending ??= pump();
  });
  child.on('close', async (code) => {
    await sending;
    if (waiting.length > 0) await post('/', Buffer.concat(waiting));
    await post('/end', '');
    process.exit(code ?? 1);
  });
}
