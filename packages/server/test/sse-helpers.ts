/**
 * A raw SSE reader for the tail tests: one real socket per tail, frames recorded as the bytes
 * arrived (the server only writes LF line ends, which this reader relies on — the client
 * package's parser handles the general case and has its own tests).
 */
import http from 'node:http';

export interface Frame {
  id?: string;
  event?: string;
  data?: string;
  retry?: string;
  /** Comment lines (heartbeats), without the leading ':'. */
  comments: string[];
}

export interface TailConn {
  status: number;
  headers: http.IncomingHttpHeaders;
  frames: Frame[];
  /** Parsed `data` of every `event: event` frame, in order. */
  events(): any[];
  /** Resolves when the server closed the stream. */
  closed: Promise<void>;
  isClosed(): boolean;
  /** Resolves when `pred` holds for the frames so far; rejects after `ms`. */
  waitFor(pred: (c: TailConn) => boolean, ms?: number, what?: string): Promise<void>;
  pause(): void;
  resume(): void;
  close(): void;
  /** Raw body text of a non-200 answer. */
  body: string;
}

export function parseFrame(block: string): Frame {
  const f: Frame = { comments: [] };
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      f.comments.push(line.slice(1).trim());
      continue;
    }
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (field === 'id' || field === 'event' || field === 'data' || field === 'retry') f[field] = value;
  }
  return f;
}

export function openTail(url: string, headers: Record<string, string> = {}): Promise<TailConn> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
      let buf = '';
      let closed = false;
      let onClose: () => void = () => {};
      const waiters = new Set<() => void>();
      const conn: TailConn = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        frames: [],
        body: '',
        events: () => conn.frames.filter((f) => f.event === 'event').map((f) => JSON.parse(f.data as string)),
        closed: new Promise<void>((r) => {
          onClose = r;
        }),
        isClosed: () => closed,
        waitFor(pred, ms = 5000, what = 'condition') {
          if (pred(conn)) return Promise.resolve();
          return new Promise<void>((ok, fail) => {
            const check = () => {
              if (pred(conn)) {
                clearInterval(poll);
                clearTimeout(timer);
                waiters.delete(check);
                ok();
              } else if (closed) {
                clearInterval(poll);
                clearTimeout(timer);
                waiters.delete(check);
                fail(new Error(`stream closed before ${what}; ${conn.frames.length} frames`));
              }
            };
            // Also polled: a predicate may depend on state outside the stream.
            const poll = setInterval(check, 50);
            const timer = setTimeout(() => {
              clearInterval(poll);
              waiters.delete(check);
              fail(new Error(`timed out after ${ms} ms waiting for ${what}; ${conn.frames.length} frames, last: ${JSON.stringify(conn.frames.at(-1))}`));
            }, ms);
            waiters.add(check);
          });
        },
        pause: () => res.pause(),
        resume: () => res.resume(),
        close: () => req.destroy(),
      };
      res.setEncoding('utf8');
      res.on('data', (s: string) => {
        if (conn.status !== 200) {
          conn.body += s;
          return;
        }
        buf += s;
        let at = buf.indexOf('\n\n');
        while (at >= 0) {
          conn.frames.push(parseFrame(buf.slice(0, at)));
          buf = buf.slice(at + 2);
          at = buf.indexOf('\n\n');
        }
        for (const w of [...waiters]) w();
      });
      const end = () => {
        if (closed) return;
        closed = true;
        onClose();
        for (const w of [...waiters]) w();
      };
      res.on('end', end);
      res.on('close', end);
      res.on('error', end);
      if (conn.status !== 200) res.on('end', () => resolve(conn));
      else resolve(conn);
    });
    req.on('error', reject);
  });
}

/** Frames of kind `event` with an id: the ids a client has been sent. */
export function eventIds(c: TailConn): string[] {
  return c.frames.filter((f) => f.event === 'event').map((f) => f.id as string);
}

export function hasEvent(name: string) {
  return (c: TailConn) => c.frames.some((f) => f.event === name);
}
