/**
 * `logsrv run`/`send` start in a fraction of a second only if no subcommand module loads the
 * server or the protocol validator up front (fastify, typebox: ~1 s here, 2-3 s under load, and
 * ~35 MB). main.ts loads only the named subcommand's module, but one heavy import in anything the
 * agent shares (agent-common, the client's agent entry) slows every wrapped command. This records every module `logsrv run --help` loads (a resolve hook) and fails
 * when one of those packages, a server module or a needless Node built-in is among them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const HEAVY = [
  '/node_modules/fastify/',
  '/node_modules/typebox/',
  '/node_modules/better-sqlite3/',
  '/node_modules/prom-client/',
  // main.ts loads only the named subcommand's module: no server module at all for the agent.
  '/packages/server/',
  // TLS and crypto load only when used (an https:// server; no /dev/urandom): several ms each.
  'node:https',
  'node:crypto',
];

// Prints every resolved module URL to stderr, one per line, prefixed.
const HOOKS = `export async function resolve(s, c, next) { const r = await next(s, c); process.stderr.write('LOADED ' + r.url + '\\n'); return r; }`;
const REGISTER = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOKS)}));`;

test('logsrv run/send/flush load neither the server nor the protocol validator', {
  skip: !existsSync(`${ROOT}packages/cli/dist/main.js`) && 'not built',
}, () => {
  for (const cmd of ['run', 'send', 'flush']) {
    const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, 'bin/logsrv', cmd, '--help'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const loaded = r.stderr.split('\n').filter((l) => l.startsWith('LOADED '));
    assert.ok(loaded.length > 5, 'the hook saw the CLI load');
    const heavy = loaded.filter((l) => HEAVY.some((h) => l.includes(h)));
    assert.deepEqual(heavy.slice(0, 5), [], `logsrv ${cmd} loads heavy modules; import them inside the subcommand's action or from a light subpath export`);
  }
});
