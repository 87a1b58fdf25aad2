/**
 * Client-side routes (the server answers every non-API path with the app):
 * `/` sessions, `/s/<session>` a session (`?line=<id>` opens at that event), `/health`.
 */
import type { AnchorHTMLAttributes, MouseEvent } from 'react';
import { useSyncExternalStore } from 'react';

export type Route = { page: 'sessions' } | { page: 'session'; session: string; line: string | null } | { page: 'health' } | { page: 'missing'; path: string };

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => {
  for (const l of listeners) l();
});

export function navigate(href: string): void {
  window.history.pushState(null, '', href);
  for (const l of listeners) l();
  window.scrollTo(0, 0);
}

function current(): string {
  return window.location.pathname + window.location.search + window.location.hash;
}

export function useRoute(): Route {
  const url = useSyncExternalStore((l) => {
    listeners.add(l);
    return () => listeners.delete(l);
  }, current);
  return parseRoute(url);
}

export function parseRoute(url: string): Route {
  const u = new URL(url, 'http://x');
  const path = u.pathname;
  if (path === '/' || path === '') return { page: 'sessions' };
  if (path === '/health') return { page: 'health' };
  const m = /^\/s\/(.+)$/.exec(path);
  if (m) {
    let session: string;
    try {
      session = decodeURIComponent(m[1] as string);
    } catch {
      return { page: 'missing', path };
    }
    const hash = u.hash.startsWith('#') ? u.hash.slice(1) : '';
    return { page: 'session', session, line: u.searchParams.get('line') || hash || null };
  }
  return { page: 'missing', path };
}

export function sessionHref(session: string, line?: string): string {
  return `/s/${encodeURIComponent(session)}${line ? `?line=${encodeURIComponent(line)}` : ''}`;
}

/** An ordinary link that navigates without a page load (a modified click still opens a tab). */
export function Link({ href, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  return (
    <a
      href={href}
      {...rest}
      onClick={(e: MouseEvent<HTMLAnchorElement>) => {
        onClick?.(e);
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(href);
      }}
    />
  );
}
