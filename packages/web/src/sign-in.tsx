/** The sign-in form shown when the server answers 401: a token, checked, kept in sessionStorage. */
import { useState } from 'react';
import { checkToken, signIn } from './api.ts';

export function SignIn({ reason }: { reason: string | null }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main className="sign-in">
      <h1>Sign in to logsrv</h1>
      {reason ? <p className="note">{reason}</p> : null}
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const t = token.trim();
          if (!t) {
            setError('Paste a token first.');
            return;
          }
          setBusy(true);
          setError(null);
          try {
            const problem = await checkToken(t);
            if (problem) setError(problem);
            else signIn(t);
          } catch (err) {
            setError(`Could not reach the server: ${(err as Error).message}`);
          } finally {
            setBusy(false);
          }
        }}
      >
        <label htmlFor="token">Access token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          aria-describedby="token-help"
          aria-invalid={error ? true : undefined}
        />
        <p id="token-help" className="hint">
          A read token is enough: <code>logsrv token create --scope read</code>. It is kept for this tab only (sessionStorage) and sent as an{' '}
          <code>Authorization</code> header.
        </p>
        {error ? (
          <p className="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
