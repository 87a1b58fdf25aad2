/**
 * Every call the UI makes goes through here: the public HTTP API of the same origin, with the
 * signed-in token as `Authorization: Bearer` (never in a URL). A 401 anywhere signs the user out
 * and brings up the sign-in form; the token lives in `sessionStorage`, so it ends with the tab.
 */
import { useSyncExternalStore } from 'react';

const TOKEN_KEY = 'logsrv.token';

export interface AuthState {
  token: string | null;
  /** Set when the server answered 401: the sign-in form is shown with this reason. */
  needsSignIn: string | null;
}

let state: AuthState = { token: readToken(), needsSignIn: null };
const listeners = new Set<() => void>();

function readToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function setState(next: AuthState): void {
  state = next;
  for (const l of listeners) l();
}

export function useAuth(): AuthState {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => state,
  );
}

export function signIn(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
  setState({ token, needsSignIn: null });
}

export function signOut(reason: string | null = null): void {
  sessionStorage.removeItem(TOKEN_KEY);
  setState({ token: null, needsSignIn: reason });
}

/** An API answer other than 2xx, with the server's `{error: {code, message}}` when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function authHeaders(token = state.token): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    // Not JSON (a proxy's page): keep the status line.
  }
  return new ApiError(res.status, code, message);
}

/** Reacts to an auth failure: 401 means the token (or its absence) is not accepted. */
function noteAuthFailure(err: ApiError): void {
  if (err.status !== 401) return;
  const reason = state.token
    ? `The server did not accept this token (${err.message}). It may be mistyped, revoked, or from another server.`
    : 'This server requires a token. Sign in with a read token (`logsrv token create --scope read`).';
  signOut(reason);
}

/** `fetch` with the token; throws ApiError on a non-2xx answer. */
export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers as Record<string, string> | undefined) } });
  if (!res.ok) {
    const err = await errorOf(res);
    noteAuthFailure(err);
    throw err;
  }
  return res;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await apiFetch(path, signal ? { signal } : {});
  return (await res.json()) as T;
}

/** Checks a token before keeping it: 401 means wrong; anything else means the server knows it. */
export async function checkToken(token: string): Promise<string | null> {
  const res = await fetch('/v1/sessions?limit=1', { headers: authHeaders(token) });
  if (res.status === 401) {
    const err = await errorOf(res);
    return `Token not accepted: ${err.message}`;
  }
  return null;
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 403) return `Not allowed with this token: ${err.message}`;
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

// ---- response shapes (SPEC §3) ----

export type Value = string | number | boolean | Record<string, unknown> | null;

export interface StoredEvent {
  id: string;
  session: string;
  key: string;
  value: Value;
  ts: string;
  received: string;
  step?: string;
  level?: string;
  component?: string;
  user?: string;
  terminal?: string;
  attrs?: Record<string, unknown>;
}

export interface EventPage {
  events: StoredEvent[];
  next: string | null;
  /** For a `before` read: the first event's id when more precede it, else null. */
  prev?: string | null;
}

export interface LatestValue {
  id: string;
  ts: string;
  value: Value;
}

export interface SessionSummary {
  session: string;
  first: string | null;
  last: string | null;
  firstId: string | null;
  lastId: string | null;
  count: number;
  levels: Record<string, number>;
  users: string[];
  terminals: string[];
  components: string[];
  latest: Record<string, LatestValue>;
  registered?: { user: string | null; terminal: string | null; attrs: Record<string, unknown> | null; updated: string };
}

export interface SessionPage {
  sessions: SessionSummary[];
  next: string | null;
}

export function sessionPath(session: string, rest = ''): string {
  return `/v1/sessions/${encodeURIComponent(session)}${rest}`;
}

export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** One page of a session's events (`after` exclusive). */
export function readEvents(
  session: string,
  params: { after?: string | null; before?: string | null; limit?: number; q?: string; key?: string },
  signal?: AbortSignal,
): Promise<EventPage> {
  return getJson<EventPage>(
    sessionPath(session, `/events${query({ after: params.after, before: params.before, limit: params.limit, q: params.q, key: params.key })}`),
    signal,
  );
}

/**
 * Downloads a whole session as text or NDJSON. Pages are fetched with the token in a header (a
 * plain link could not carry it), following `Logsrv-Next` to the end, and joined into one Blob
 * the browser saves — the pages themselves are never parsed.
 */
export async function downloadSession(session: string, format: 'text' | 'ndjson', onProgress?: (pages: number) => void): Promise<void> {
  const parts: Blob[] = [];
  let after: string | null = null;
  for (let pages = 1; ; pages++) {
    const res = await apiFetch(sessionPath(session, `/events${query({ format, limit: 10_000, after })}`));
    parts.push(await res.blob());
    onProgress?.(pages);
    after = res.headers.get('logsrv-next');
    if (!after) break;
  }
  const blob = new Blob(parts, { type: format === 'text' ? 'text/plain' : 'application/x-ndjson' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = `${session.replace(/[^\w.-]+/g, '_')}.${format === 'text' ? 'log' : 'ndjson'}`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
