/**
 * API tokens (SPEC §4 `token`, §7). Kept in `<dataDir>/tokens.json`, hashed: the file never holds
 * a usable token. A token reads `lsv_<id>_<secret>`: the id finds the entry, the secret is checked
 * against its SHA-256 (secrets are 32 random bytes, so a fast hash is enough; comparison is
 * constant-time). Writes go to a temp file renamed over the old one, so a reader never sees half
 * a file; the server reloads the file when it changes, so `logsrv token revoke` takes effect on a
 * running server within a second.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SCOPES = ['ingest', 'read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface TokenEntry {
  id: string;
  name: string | null;
  /** SHA-256 of the secret, hex. */
  hash: string;
  scopes: Scope[];
  /** When set, the token reaches only sessions whose name starts with this. */
  sessionPrefix: string | null;
  /** When set, events ingested with the token must carry this component. */
  component: string | null;
  /** Event quota: events per second, and the most at once (absent in files of earlier versions). */
  eventsPerSecond?: number | null;
  eventsBurst?: number | null;
  createdAt: string;
  revokedAt: string | null;
}

export interface TokenFile {
  version: 1;
  tokens: TokenEntry[];
}

export function tokensPath(dataDir: string): string {
  return join(dataDir, 'tokens.json');
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export function parseTokenFile(text: string, path: string): TokenFile {
  const doc = JSON.parse(text) as TokenFile;
  if (doc?.version !== 1 || !Array.isArray(doc.tokens)) throw new Error(`${path} is not a logsrv token file`);
  return doc;
}

export function readTokenFile(dataDir: string): TokenFile {
  const path = tokensPath(dataDir);
  if (!existsSync(path)) return { version: 1, tokens: [] };
  return parseTokenFile(readFileSync(path, 'utf8'), path);
}

function writeTokenFile(dataDir: string, doc: TokenFile): void {
  mkdirSync(dataDir, { recursive: true });
  const path = tokensPath(dataDir);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

export interface CreateTokenOptions {
  scopes: Scope[];
  name?: string | undefined;
  sessionPrefix?: string | undefined;
  component?: string | undefined;
  eventsPerSecond?: number | undefined;
  /** Default: twice `eventsPerSecond`. */
  eventsBurst?: number | undefined;
}

/** Adds a token; returns the only copy of its clear text. */
export function createToken(dataDir: string, o: CreateTokenOptions, now = new Date()): { token: string; entry: TokenEntry } {
  const doc = readTokenFile(dataDir);
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const entry: TokenEntry = {
    id,
    name: o.name ?? null,
    hash: sha256(secret).toString('hex'),
    scopes: [...new Set(o.scopes)],
    sessionPrefix: o.sessionPrefix ?? null,
    component: o.component ?? null,
    eventsPerSecond: o.eventsPerSecond ?? null,
    eventsBurst: o.eventsPerSecond ? (o.eventsBurst ?? 2 * o.eventsPerSecond) : null,
    createdAt: now.toISOString(),
    revokedAt: null,
  };
  doc.tokens.push(entry);
  writeTokenFile(dataDir, doc);
  return { token: `lsv_${id}_${secret}`, entry };
}

/** Marks a token revoked; false when no live token has that id. */
export function revokeToken(dataDir: string, id: string, now = new Date()): boolean {
  const doc = readTokenFile(dataDir);
  const entry = doc.tokens.find((t) => t.id === id && t.revokedAt === null);
  if (!entry) return false;
  entry.revokedAt = now.toISOString();
  writeTokenFile(dataDir, doc);
  return true;
}

const TOKEN_RE = /^lsv_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** The live entry a clear-text token belongs to, or null. */
export function verifyToken(doc: TokenFile, token: string): TokenEntry | null {
  const m = TOKEN_RE.exec(token);
  if (!m) return null;
  const entry = doc.tokens.find((t) => t.id === m[1]);
  if (!entry || entry.revokedAt !== null) return null;
  const want = Buffer.from(entry.hash, 'hex');
  const got = sha256(m[2] as string);
  return want.length === got.length && timingSafeEqual(want, got) ? entry : null;
}

/** Does the token carry `scope`? `admin` carries every scope. */
export function hasScope(entry: TokenEntry, scope: Scope): boolean {
  return entry.scopes.includes(scope) || entry.scopes.includes('admin');
}
