/**
 * The `next`/`after` cursor of `GET /v1/sessions`: the position of the last session of a page in
 * the listing order (latest activity first, then session name descending). Opaque to clients:
 * base64url of `[lastMs, session]`, where lastMs is -1 for a registered session without events.
 */
export interface SessionCursor {
  lastMs: number;
  session: string;
}

export function encodeSessionCursor(c: SessionCursor): string {
  return Buffer.from(JSON.stringify([c.lastMs, c.session])).toString('base64url');
}

/** The cursor, or null when `text` is not one this server made. */
export function decodeSessionCursor(text: string): SessionCursor | null {
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(text)) return null;
  try {
    const v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(v) || v.length !== 2 || !Number.isSafeInteger(v[0]) || v[0] < -1 || typeof v[1] !== 'string') return null;
    return { lastMs: v[0] as number, session: v[1] as string };
  } catch {
    return null;
  }
}

/**
 * Compares strings by code point — the order SQLite's BINARY collation gives their UTF-8 — where
 * JavaScript's `<` compares UTF-16 code units (a surrogate pair sorts below U+E000 there).
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** Listing order: negative when a comes first — more recent, or as recent and its name sorts higher. */
export function compareListed(a: SessionCursor, b: SessionCursor): number {
  return b.lastMs - a.lastMs || compareCodePoints(b.session, a.session);
}
