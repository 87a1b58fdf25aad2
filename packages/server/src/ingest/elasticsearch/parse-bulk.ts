/**
 * The body of an Elasticsearch `_bulk` request (ES reference, "Bulk API"): NDJSON, an action line
 * (`{"index": {...}}`, `{"create": {...}}`, `{"delete": {...}}` or `{"update": {...}}`) followed by a
 * source line for every action but `delete`. A line that is not an action where one is due makes
 * the whole request malformed, as in Elasticsearch (one 400); a source line that is not a JSON
 * object fails only its item.
 */

export type BulkAction = 'index' | 'create' | 'delete' | 'update';

export interface BulkItem {
  action: BulkAction;
  index: string | undefined;
  id: string | undefined;
  /** The parsed source document, or why it could not be (the item's error). */
  doc: Record<string, unknown> | { error: string };
}

export class BulkSyntaxError extends Error {}

const ACTIONS = new Set<string>(['index', 'create', 'delete', 'update']);

export function parseBulk(text: string, defaultIndex: string | undefined): BulkItem[] {
  const items: BulkItem[] = [];
  let at = 0;
  let lineNo = 0;
  const nextLine = (): string | null => {
    while (at < text.length) {
      const nl = text.indexOf('\n', at);
      const line = nl === -1 ? text.slice(at) : text.slice(at, nl);
      at = nl === -1 ? text.length : nl + 1;
      lineNo++;
      if (line.trim() !== '') return line;
    }
    return null;
  };
  for (;;) {
    const line = nextLine();
    if (line === null) break;
    let action: unknown;
    try {
      action = JSON.parse(line);
    } catch (err) {
      throw new BulkSyntaxError(`line ${lineNo}: malformed action/metadata line, expected a JSON object: ${(err as Error).message}`);
    }
    const keys = typeof action === 'object' && action !== null && !Array.isArray(action) ? Object.keys(action) : [];
    const name = keys[0];
    if (keys.length !== 1 || name === undefined || !ACTIONS.has(name)) {
      throw new BulkSyntaxError(`line ${lineNo}: malformed action/metadata line, expected one of index, create, delete, update, got ${line.slice(0, 80)}`);
    }
    const meta = (action as Record<string, unknown>)[name];
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw new BulkSyntaxError(`line ${lineNo}: action ${name} must hold an object`);
    const m = meta as Record<string, unknown>;
    const index = typeof m._index === 'string' && m._index !== '' ? m._index : defaultIndex;
    const id = typeof m._id === 'string' && m._id !== '' ? m._id : typeof m._id === 'number' ? String(m._id) : undefined;
    if (name === 'delete') {
      items.push({ action: name, index, id, doc: { error: 'delete' } });
      continue;
    }
    const source = nextLine();
    if (source === null) throw new BulkSyntaxError(`line ${lineNo}: action ${name} has no source line after it`);
    let doc: Record<string, unknown> | { error: string };
    try {
      const v = JSON.parse(source);
      doc =
        typeof v === 'object' && v !== null && !Array.isArray(v)
          ? v
          : { error: `the source must be a JSON object, got ${Array.isArray(v) ? 'an array' : typeof v}` };
    } catch (err) {
      doc = { error: `failed to parse the source: ${(err as Error).message}` };
    }
    items.push({ action: name as BulkAction, index, id, doc });
  }
  return items;
}
