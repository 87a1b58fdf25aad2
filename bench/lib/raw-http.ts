/**
 * A cheap HTTP/1.1 client for timing large answers: one keep-alive socket, GET requests written by
 * hand, the answer's bytes counted as they arrive and kept only when asked for. The time of a
 * request is from writing it to the answer's last byte (time to last byte).
 *
 * Why not fetch: `fetch` + `arrayBuffer()` of a 3.2 MB answer costs the client its web stream's
 * per-chunk work, a fresh 3.2 MB buffer (page faults) and, every few requests, a full GC of the
 * benchmark's own heap; those pauses landed in the figures as server latency (bench/query.ts).
 */
import { connect, type Socket } from 'node:net';

export interface RawAnswer {
  status: number;
  /** Total bytes of the body. */
  bytes: number;
  /** The body, when asked for. */
  body: Buffer | null;
  /** ms from writing the request to its first byte, and to its last. */
  firstByteMs: number;
  lastByteMs: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');

export class RawHttpClient {
  private readonly socket: Socket;
  private readonly ready: Promise<void>;
  private pending: {
    t0: number;
    keep: boolean;
    head: Buffer | null;
    status: number;
    want: number;
    got: number;
    parts: Buffer[];
    firstByteMs: number;
    resolve: (a: RawAnswer) => void;
    reject: (e: Error) => void;
  } | null = null;
  private failed: Error | null = null;

  constructor(base: string) {
    const u = new URL(base);
    if (u.protocol !== 'http:') throw new Error(`RawHttpClient: ${base}: http only`);
    this.socket = connect(Number(u.port || 80), u.hostname);
    this.socket.setNoDelay(true);
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.socket.on('data', (b: Buffer) => this.onData(b));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error('RawHttpClient: connection closed by the server')));
  }

  /** GET `path`; the body is kept only with `keep`. */
  async get(path: string, keep = false): Promise<RawAnswer> {
    await this.ready;
    if (this.failed) throw this.failed;
    if (this.pending) throw new Error('RawHttpClient: one request at a time');
    return new Promise<RawAnswer>((resolve, reject) => {
      this.pending = { t0: performance.now(), keep, head: null, status: 0, want: 0, got: 0, parts: [], firstByteMs: 0, resolve, reject };
      this.socket.write(`GET ${path} HTTP/1.1\r\nhost: bench\r\n\r\n`);
    });
  }

  close(): void {
    this.pending = null;
    this.socket.destroy();
  }

  private onData(b: Buffer): void {
    const p = this.pending;
    if (!p) {
      this.fail(new Error(`RawHttpClient: ${b.length} bytes with no request pending`));
      return;
    }
    if (p.firstByteMs === 0) p.firstByteMs = performance.now() - p.t0;
    let body = b;
    if (p.head === null) {
      p.parts.push(b);
      const all = p.parts.length === 1 ? b : Buffer.concat(p.parts);
      const end = all.indexOf(HEAD_END);
      if (end < 0) {
        p.parts = [all];
        return;
      }
      p.head = all.subarray(0, end);
      p.parts = [];
      const text = p.head.toString('latin1');
      p.status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      const length = /\r\ncontent-length: *(\d+)/i.exec(text)?.[1];
      if (length === undefined) {
        this.fail(new Error(`RawHttpClient: an answer without content-length (chunked answers are not read): ${text.slice(0, 200)}`));
        return;
      }
      p.want = Number(length);
      body = all.subarray(end + HEAD_END.length);
    }
    p.got += body.length;
    if (p.keep || p.status !== 200) p.parts.push(body);
    if (p.got > p.want) {
      this.fail(new Error(`RawHttpClient: ${p.got - p.want} bytes past the answer's content-length`));
      return;
    }
    if (p.got < p.want) return;
    const lastByteMs = performance.now() - p.t0;
    this.pending = null;
    p.resolve({
      status: p.status,
      bytes: p.got,
      body: p.keep || p.status !== 200 ? Buffer.concat(p.parts) : null,
      firstByteMs: p.firstByteMs,
      lastByteMs,
    });
  }

  private fail(err: Error): void {
    this.failed ??= err;
    const p = this.pending;
    this.pending = null;
    p?.reject(this.failed);
    this.socket.destroy();
  }
}
