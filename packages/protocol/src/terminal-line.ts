/**
 * Terminal line semantics for command output, shared by every renderer (format=text, `logsrv
 * tail`/`query`, the web UI) so each shows a line the way a terminal showed it.
 *
 * How output is stored (SPEC §1: an event's value is the text): a `stdout`/`stderr` value is the
 * text of a line *as written*, without its `\n` (a `\r\n` ends a line like `\n`), with every
 * carriage return, backspace and escape sequence kept. A line the agent sent before it was
 * finished — a progress bar redrawn with `\r`, a prompt without a newline, a piece of a very long
 * line — is stored as consecutive pieces, all but the last with `attrs.partial: true`: joining
 * them gives the line as written. Renderers then apply {@link screenLine}: `\r` returns to the
 * start of the line and what follows overwrites, so `\rprogress 10%\rprogress 100%` shows as
 * `progress 100%`.
 *
 * Agents before issue 15 sent a segment ended by a bare `\r` as its own event with
 * `attrs.cr: true` and without the `\r`; {@link outputPiece} reads those as the same thing.
 */

/** What a `stdout`/`stderr` event adds to its line. */
export interface OutputPiece {
  /** Text as written, `\r`, `\b` and escapes included. */
  text: string;
  /** The line goes on in the next piece (`attrs.partial`, or a legacy `attrs.cr` segment). */
  open: boolean;
}

/** The piece of a line an output event carries (values that are not strings read as JSON). */
export function outputPiece(e: { value: unknown; attrs?: Record<string, unknown> | undefined }): OutputPiece {
  const text = typeof e.value === 'string' ? e.value : JSON.stringify(e.value);
  const attrs = e.attrs;
  if (attrs === undefined) return { text, open: false };
  if (attrs.partial === true) return { text, open: true };
  if (attrs.cr === true) return { text: `${text}\r`, open: true };
  return { text, open: false };
}

// Only these make the picture differ from the text as written: carriage return, backspace, and
// the CSI cursor moves and erases a progress bar uses (CHA `G`, CUF `C`, CUB `D`, EL `K`).
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are the subject
const NEEDS_SCREEN = /[\r\b]|\u001b\[[0-9;]*[CDGK]/;
// A CSI sequence (ECMA-48 §5.4), an OSC string ended by BEL or ST, or any other ESC + one character.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are the subject
const ESCAPE = /\u001b(?:\[([0-?]*)[ -/]*([@-~])|\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|[^[\]])?/y;

/**
 * What a terminal shows once `raw` (one line as written, without its `\n`) has been printed on an
 * empty line: `\r` moves to column 0, `\b` one column back, CSI `G`/`C`/`D` move the cursor and
 * `K` erases; printed characters overwrite the cells under the cursor, keeping the colours (SGR)
 * they were written with. Other escape sequences (titles, cursor up/down, hiding the cursor) are
 * dropped where the line had to be redrawn. A line with none of these is returned unchanged,
 * colours and all.
 *
 * Known limits: one cell per code point (a terminal gives East Asian wide characters two, and
 * combining marks none); redraws of lines above (cursor up, as multi-line progress displays do)
 * cannot be replayed on one line — those sequences are dropped.
 */
export function screenLine(raw: string): string {
  if (!NEEDS_SCREEN.test(raw)) return raw;
  const cells: string[] = [];
  const styles: string[] = [];
  let col = 0;
  // SGR sequences in force: everything since the last reset, replayed as written.
  let sgr = '';
  const put = (ch: string) => {
    while (cells.length < col) {
      cells.push(' ');
      styles.push('');
    }
    cells[col] = ch;
    styles[col] = sgr;
    col++;
  };
  for (let i = 0; i < raw.length; ) {
    const c = raw.charCodeAt(i);
    if (c === 0x0d) {
      col = 0;
      i++;
    } else if (c === 0x08) {
      if (col > 0) col--;
      i++;
    } else if (c === 0x1b) {
      ESCAPE.lastIndex = i;
      const m = ESCAPE.exec(raw);
      const len = m ? m[0].length : 1;
      const final = m?.[2];
      if (final !== undefined) {
        const params = m?.[1] ?? '';
        const n = Number.parseInt(params, 10);
        if (final === 'm') sgr = params === '' || params === '0' ? '' : sgr + raw.slice(i, i + len);
        else if (final === 'G') col = Math.max(0, (Number.isNaN(n) ? 1 : n) - 1);
        else if (final === 'C') col += Number.isNaN(n) || n === 0 ? 1 : n;
        else if (final === 'D') col = Math.max(0, col - (Number.isNaN(n) || n === 0 ? 1 : n));
        else if (final === 'K') {
          if (Number.isNaN(n) || n === 0) {
            cells.length = Math.min(cells.length, col);
            styles.length = cells.length;
          } else {
            const to = n === 1 ? Math.min(col + 1, cells.length) : cells.length;
            for (let k = 0; k < to; k++) {
              cells[k] = ' ';
              styles[k] = '';
            }
            if (n === 2) {
              cells.length = 0;
              styles.length = 0;
            }
          }
        }
      }
      i += Math.max(1, len);
    } else {
      // One cell per code point: a surrogate pair stays together.
      const wide = c >= 0xd800 && c <= 0xdbff && i + 1 < raw.length;
      put(raw.slice(i, wide ? i + 2 : i + 1));
      i += wide ? 2 : 1;
    }
  }
  let out = '';
  let current = '';
  for (let k = 0; k < cells.length; k++) {
    const s = styles[k] as string;
    if (s !== current) {
      out += current === '' ? s : `\u001b[0m${s}`;
      current = s;
    }
    out += cells[k];
  }
  // Leave the colour state as the line did (colours may carry on to the next line).
  if (sgr !== current) out += current === '' ? sgr : `\u001b[0m${sgr}`;
  return out;
}

/**
 * Joins output pieces into lines: `push` each `stdout`/`stderr` event in id order; a line is
 * handed to `onLine` (as written, before {@link screenLine}) once a piece that does not go on
 * arrives. `open` is the line still being written, if any.
 */
export class LineJoiner {
  private acc = '';
  private hasOpen = false;

  constructor(private readonly onLine: (raw: string) => void) {}

  push(e: { value: unknown; attrs?: Record<string, unknown> | undefined }): void {
    const p = outputPiece(e);
    this.acc += p.text;
    if (p.open) {
      this.hasOpen = true;
      return;
    }
    const line = this.acc;
    this.acc = '';
    this.hasOpen = false;
    this.onLine(line);
  }

  /** The unfinished line so far, or null when every line pushed has ended. */
  get open(): string | null {
    return this.hasOpen ? this.acc : null;
  }
}
