/** The shell: navigation, theme, sign-in/out, and the page for the current route. */
import { useEffect, useState } from 'react';
import { signOut, useAuth } from './api.ts';
import { HealthPage } from './health-page.tsx';
import { Link, useRoute } from './router.tsx';
import { SessionPage } from './session-page.tsx';
import { SessionsPage } from './sessions-page.tsx';
import { SignIn } from './sign-in.tsx';

type Theme = 'auto' | 'light' | 'dark';
const THEME_KEY = 'logsrv.theme';

function useTheme(): [Theme, (t: Theme) => void] {
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem(THEME_KEY) as Theme | null) ?? 'auto');
  useEffect(() => {
    const root = document.documentElement;
    if (theme === 'auto') delete root.dataset.theme;
    else root.dataset.theme = theme;
    localStorage.setItem(THEME_KEY, theme);
  }, [theme]);
  return [theme, setTheme];
}

export function App() {
  const route = useRoute();
  const auth = useAuth();
  const [theme, setTheme] = useTheme();
  const next: Record<Theme, Theme> = { auto: 'light', light: 'dark', dark: 'auto' };

  useEffect(() => {
    document.title = route.page === 'session' ? `${route.session} — logsrv` : route.page === 'health' ? 'Health — logsrv' : 'logsrv';
  }, [route]);

  let page: React.ReactNode;
  if (auth.needsSignIn !== null) page = <SignIn reason={auth.needsSignIn} />;
  else if (route.page === 'sessions') page = <SessionsPage />;
  else if (route.page === 'session') page = <SessionPage key={route.session} session={route.session} lineId={route.line} />;
  else if (route.page === 'health') page = <HealthPage />;
  else
    page = (
      <main>
        <h1>Not found</h1>
        <p>
          Nothing at <code>{route.path}</code>. <Link href="/">All sessions</Link>
        </p>
      </main>
    );

  return (
    <>
      <a className="skip" href="#content">
        Skip to content
      </a>
      <header className="top">
        <Link href="/" className="brand">
          logsrv
        </Link>
        <nav aria-label="Main">
          <Link href="/" aria-current={route.page === 'sessions' ? 'page' : undefined}>
            Sessions
          </Link>
          <Link href="/health" aria-current={route.page === 'health' ? 'page' : undefined}>
            Health
          </Link>
        </nav>
        <div className="top-tools">
          <button type="button" onClick={() => setTheme(next[theme])} aria-label={`Colour theme: ${theme}. Switch to ${next[theme]}`}>
            {theme === 'auto' ? '◐ auto' : theme === 'light' ? '☀ light' : '☾ dark'}
          </button>
          {auth.token ? (
            <button type="button" onClick={() => signOut('Signed out. Sign in again with a token.')}>
              Sign out
            </button>
          ) : null}
        </div>
      </header>
      <div id="content" tabIndex={-1}>
        {page}
      </div>
    </>
  );
}
