/** Renders a page of events as json, ndjson, text or html (SPEC §3). */
import type { StoredEvent } from '@logsrv/protocol';
import { outputPiece, screenLine } from '@logsrv/protocol';
import { CSI_OSC_SOURCE } from '../search/escapes.js';
import type { TextOptions } from '../store/row-text.js';
import { renderTextBody } from '../store/row-text.js';

export const FORMATS = ['json', 'ndjson', 'text', 'html'] as const;
export type Format = (typeof FORMATS)[number];

export const CONTENT_TYPES: Record<Format, string> = {
  json: 'application/json; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
  text: 'text/plain; charset=utf-8',
  html: 'text/html; charset=utf-8',
};

/** What a terminal would have shown: strings as they are, other values as JSON. */
export function valueText(e: StoredEvent): string {
  return typeof e.value === 'string' ? e.value : JSON.stringify(e.value);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
}

// ANSI CSI/OSC sequences and other C0 control codes (except tab) are removed from HTML output so
// a log line can never drive the reader's terminal or page.
// The CSI/OSC grammar is the search's (search/escapes.ts); any other ESC takes the next character.
const CONTROL = new RegExp(`${CSI_OSC_SOURCE}|\\u001b.|[\\u0000-\\u0008\\u000b-\\u001f\\u007f]`, 'g');

export function stripControl(s: string): string {
  return s.replace(CONTROL, '');
}

/** `format=text` of a page (store/row-text.ts renders it in the reader thread the same way). */
export function renderText(events: StoredEvent[], opts?: TextOptions): string {
  return renderTextBody(events, opts);
}

export function renderNdjson(events: StoredEvent[]): string {
  let out = '';
  for (const e of events) out += `${JSON.stringify(e)}\n`;
  return out;
}

export function renderHtml(session: string, events: StoredEvent[], nextHref: string | null): string {
  // Output pieces of one line (attrs.partial) become one row, shown as the terminal drew it.
  const rows: string[] = [];
  let acc = '';
  let firstId: string | null = null;
  let firstTs = '';
  for (const e of events) {
    const output = e.key === 'stdout' || e.key === 'stderr';
    let text: string;
    let id = e.id;
    let ts = e.ts;
    if (output) {
      const p = outputPiece(e);
      acc += p.text;
      firstId ??= e.id;
      if (firstId === e.id) firstTs = e.ts;
      if (p.open) continue;
      text = screenLine(acc);
      id = firstId;
      ts = firstTs;
      acc = '';
      firstId = null;
    } else text = valueText(e);
    const cls = e.key === 'stderr' ? 'err' : output ? 'out' : 'ev';
    const label = output ? '' : `<b>${escapeHtml(e.key)}</b> `;
    rows.push(
      `<div class="${cls}" id="e-${escapeHtml(id)}"><a href="#e-${escapeHtml(id)}" title="${escapeHtml(ts)}">#</a> ${label}${escapeHtml(stripControl(text))}</div>`,
    );
  }
  if (firstId !== null) {
    rows.push(
      `<div class="out" id="e-${escapeHtml(firstId)}"><a href="#e-${escapeHtml(firstId)}" title="${escapeHtml(firstTs)}">#</a> ${escapeHtml(stripControl(screenLine(acc)))}</div>`,
    );
  }
  const more = nextHref ? `<p><a href="${escapeHtml(nextHref)}">next page</a></p>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(session)} — logsrv</title>
<style>
body{font:13px/1.4 ui-monospace,monospace;margin:1rem;background:#fff;color:#111}
@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}}
div{white-space:pre-wrap;word-break:break-all}.err{color:#c22}.ev{color:#36c}a{color:inherit;opacity:.4;text-decoration:none}
</style></head><body>
<h1>${escapeHtml(session)}</h1>
${rows.join('\n')}
${more}
</body></html>
`;
}
