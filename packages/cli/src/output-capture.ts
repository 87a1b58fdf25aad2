/**
 * Captures a command's output streams: each chunk is written unchanged to its terminal stream
 * (pausing the source while that is full, as a terminal would), then turned into line events
 * (output-lines.ts) — at once while the sender keeps up, or later, at the sender's pace, when it
 * does not (output-backlog.ts). Chunks of all streams go through one backlog, so events keep the
 * order in which the chunks were read.
 *
 * Quiet periods: an unfinished line is sent after PARTIAL_FLUSH_MS without output on its stream.
 * The timer runs in real time; while chunks wait in the backlog, it leaves a marker there instead,
 * so the flush happens at the same point of the stream as it would have live.
 *
 * Ownership: `add` registers a stream and returns when it ends; `finish` (after every stream ended)
 * turns whatever waits into events and ends the splitters. The caller then sends step.exit and
 * closes the sender.
 */
import type { HttpSender, OutgoingEvent } from '@logsrv/client/agent';
import { OutputBacklog, sweepBacklogs } from './output-backlog.js';
import { EventWriter } from './output-events.js';
import type { PieceEnd } from './output-lines.js';
import { OutputLines } from './output-lines.js';

/** How long an unfinished line (a prompt, a progress line) waits before it is sent as it is. */
export const PARTIAL_FLUSH_MS = 200;
/** Chunks are made into events at once while the sender holds less than this. */
const SENDER_ROOM_BYTES = 1024 * 1024;
/** Raw output made into events per turn of the event loop while the command runs. */
const DRAIN_SLICE_BYTES = 64 * 1024;
/** Raw output kept in memory before the backlog file is used. */
const BACKLOG_MEMORY_BYTES = 4 * 1024 * 1024;

/** A fixed part of every event of this run: session, step. */
export type EventBase = Pick<OutgoingEvent, 'session' | 'step'>;

interface Stream {
  lines: OutputLines;
  /** Read time of the chunk being split: the `ts` of its events. */
  ts: number;
  /** The events' fixed start for `ts` (EventWriter.head), made once per read. */
  head: Buffer;
  headTs: number;
  quiet: NodeJS.Timeout | null;
}

export class OutputCapture {
  private readonly streams: Stream[] = [];
  private readonly backlog: OutputBacklog;
  private drainScheduled = false;
  /** Wakes a waiting {@link finish}. */
  private progress: (() => void) | null = null;
  /** Every event is written here and handed to the sender at the end of the step that made it. */
  private readonly out: EventWriter;
  /** Resumes of streams paused because the backlog was full (see OutputBacklog.full). */
  private blocked: (() => void)[] = [];
  private pauseTold = false;
  /** The command exited: what is left in its pipes is read whatever the backlog holds (see {@link release}). */
  private released = false;

  constructor(
    private readonly sender: HttpSender,
    private readonly base: EventBase,
    private readonly maxLineBytes: number,
    backlogDir: string,
    private readonly say?: (message: string) => void,
  ) {
    sweepBacklogs(backlogDir);
    this.backlog = new OutputBacklog(backlogDir, BACKLOG_MEMORY_BYTES);
    this.out = new EventWriter(sender);
  }

  /** Call from the sender's onAck: room was made, make more events. */
  readonly onSenderProgress = (): void => {
    this.progress?.();
    this.scheduleDrain();
  };

  /**
   * Makes events from the backlog a slice at a time, each slice on its own turn of the event
   * loop, so reading the command's pipes (which it blocks on when they are full) is never held
   * up for more than one slice.
   */
  private scheduleDrain(): void {
    if (this.drainScheduled || this.backlog.empty || this.sender.queuedBytes >= SENDER_ROOM_BYTES) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain(false, DRAIN_SLICE_BYTES);
      this.scheduleDrain();
    });
  }

  /** Captures one stream; events get `key`. Resolves when the stream ends (or is abandoned). */
  add(source: NodeJS.ReadableStream & { destroy?: () => void }, tee: NodeJS.WritableStream | null, key: string): { done: Promise<void>; abandon(): void } {
    const index = this.streams.length;
    // Events are written as bytes from a fixed start (see output-events.ts): a string and an
    // object per line, joined into a request body and encoded again, were the agent's largest cost.
    const baseAndKey = JSON.stringify({ ...this.base, key }).slice(0, -1);
    const producer = this.sender.producerJsonText;
    const head = (): Buffer => {
      if (stream.headTs !== stream.ts) {
        stream.head = EventWriter.head(baseAndKey, stream.ts, producer);
        stream.headTs = stream.ts;
      }
      return stream.head;
    };
    const stream: Stream = {
      ts: 0,
      head: Buffer.alloc(0),
      headTs: -1,
      quiet: null,
      lines: new OutputLines(
        this.maxLineBytes,
        (value: string, end: PieceEnd) => this.out.text(head(), value, end),
        (buf, start, end) => this.out.line(head(), buf, start, end),
      ),
    };
    this.streams.push(stream);
    let teeBroken = tee === null;
    // The source is paused while the terminal side is full (waitTee) or the backlog can take no
    // more (waitBacklog); it resumes when neither holds.
    let waitTee = false;
    let waitBacklog = false;
    const update = (): void => {
      if (waitTee || waitBacklog) source.pause();
      else source.resume();
    };
    const resume = () => {
      if (!waitTee) return;
      waitTee = false;
      update();
    };
    const backlogRoom = () => {
      waitBacklog = false;
      update();
    };
    // The terminal side may go away (`logsrv run cmd | head`): keep capturing, stop teeing. A
    // write that was refused just before (waiting for 'drain') gets its error instead, never a
    // 'drain': resume here, or the command would block on its full pipe forever.
    tee?.on('error', () => {
      teeBroken = true;
      resume();
    });
    // Reads of this stream so far: onQuiet checks that none came after its timer fired.
    let reads = 0;
    const onQuiet = () => {
      // The timer may fire late because this process itself was held up (a loaded machine,
      // SIGSTOP), with the rest of the line already waiting in the pipe: that is no quiet period.
      // Timers run before the event loop polls the pipe; decide after the poll (setImmediate).
      const seen = reads;
      setImmediate(() => {
        if (reads !== seen || finished) return;
        if (this.backlog.empty) {
          stream.lines.flushPartial();
          this.out.flush();
        } else this.backlog.push(index, Date.now(), null);
      });
    };
    let finished = false;
    let finish: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      finish = () => {
        if (finished) return;
        finished = true;
        if (stream.quiet) clearTimeout(stream.quiet);
        resolve();
      };
    });
    source.on('data', (chunk: Buffer) => {
      reads++;
      if (!teeBroken && tee && !tee.write(chunk) && !waitTee) {
        waitTee = true;
        update();
        tee.once('drain', resume);
      }
      const ts = Date.now();
      if (this.backlog.empty && this.sender.queuedBytes < SENDER_ROOM_BYTES) {
        stream.ts = ts;
        stream.lines.push(chunk);
        this.out.flush();
        if (!stream.lines.hasPending) return;
      } else {
        this.backlog.push(index, ts, chunk);
        if (this.backlog.full && !waitBacklog && !this.released) {
          // Memory is at its bound and the backlog file is unusable: the command waits on its
          // pipe until the sender takes some (nothing is dropped, memory stays bounded).
          waitBacklog = true;
          update();
          this.blocked.push(backlogRoom);
          if (!this.pauseTold) {
            this.pauseTold = true;
            this.say?.(
              `output is faster than the server takes it and the backlog file cannot be written (${this.backlog.unusable}); the command's output is read at the server's pace`,
            );
          }
        }
      }
      if (stream.quiet) stream.quiet.refresh();
      else stream.quiet = setTimeout(onQuiet, PARTIAL_FLUSH_MS);
    });
    source.on('end', finish);
    source.on('close', finish);
    source.on('error', finish);
    return {
      done,
      abandon() {
        source.destroy?.();
        finish();
      },
    };
  }

  /**
   * The command exited: streams paused for backlog room are read again and no longer paused, so
   * what is left in the pipes (bounded by their size, unless a background process keeps writing
   * during the caller's grace period) reaches the backlog and the streams can end.
   */
  release(): void {
    this.released = true;
    const resume = this.blocked;
    this.blocked = [];
    for (const r of resume) r();
  }

  /**
   * Every stream has ended: turns what waits into events — at the sender's pace while it
   * delivers, all at once (into the sender's spool) when `giveUp()` says it cannot — and ends
   * each stream's last line.
   */
  async finish(giveUp: () => boolean): Promise<void> {
    for (;;) {
      this.drain(false);
      if (this.backlog.empty) break;
      if (giveUp()) {
        this.drain(true);
        break;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.progress = () => {
          clearTimeout(timer);
          // On a later turn, not within the acknowledgement: the sender has just handed its next
          // request to Node, which writes it on a later tick. Making the next MiB of events first
          // (~3 ms, synchronous) held that request back while the server sat idle for it.
          setImmediate(resolve);
        };
      });
      this.progress = null;
    }
    this.backlog.close();
    for (const s of this.streams) s.lines.end();
    this.out.flush();
  }

  private drain(all: boolean, maxBytes = Number.POSITIVE_INFINITY): void {
    let bytes = 0;
    while (all || (this.sender.queuedBytes < SENDER_ROOM_BYTES && bytes < maxBytes)) {
      const e = this.backlog.shift();
      if (!e) break;
      bytes += e.data?.length ?? 0;
      const s = this.streams[e.stream] as Stream;
      if (e.data === null) s.lines.flushPartial();
      else {
        s.ts = e.ts;
        s.lines.push(e.data);
      }
      this.out.flush();
    }
    if (this.blocked.length > 0 && !this.backlog.full) {
      const resume = this.blocked;
      this.blocked = [];
      for (const r of resume) r();
    }
  }
}
