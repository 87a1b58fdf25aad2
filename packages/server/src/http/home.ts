/** A minimal start page until the React UI (issue 8) replaces it: open a session by name. */
export function homePage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>logsrv</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}
@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}} code{font-size:13px}</style></head>
<body><h1>logsrv</h1>
<form onsubmit="location.href='/v1/sessions/'+encodeURIComponent(this.s.value)+'/events?format=html';return false">
<label>Session <input name="s" required autofocus></label> <button>Open</button></form>
<p>Send: <code>curl --data-binary '{"session":"demo","key":"stdout","value":"hello"}' http://HOST/v1/events</code></p>
<p>Read: <code>/v1/sessions/demo/events?format=text</code> · <a href="/healthz">health</a> · <a href="/metrics">metrics</a></p>
</body></html>
`;
}
