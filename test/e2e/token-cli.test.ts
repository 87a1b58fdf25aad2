import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli, startServer, tempDir } from './helpers.ts';

test('tokens made with `logsrv token` gate a running server, revocation applies live, and no secret reaches the server logs', {
  timeout: 60_000,
}, async (t) => {
  const dataDir = tempDir(t);
  const made = await runCli(['token', 'create', '--scope', 'read', '--name', 'viewer', '--data', dataDir]);
  assert.equal(made.code, 0, made.stderr);
  const token = made.stdout.trim();
  assert.match(token, /^lsv_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
  const id = token.slice(4, 16);

  const server = await startServer(t, { dataDir, args: ['--log-level', 'trace'] });
  const get = (auth?: string) => fetch(`${server.url}/v1/sessions/s/events`, auth ? { headers: { authorization: `Bearer ${auth}` } } : {});
  assert.equal((await get()).status, 401);
  assert.equal((await get(token)).status, 200);
  const wrong = `${token.slice(0, -4)}AAAA`;
  assert.equal((await get(wrong)).status, 401);

  const list = await runCli(['token', 'list', '--json', '--data', dataDir]);
  const listed = list.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    listed.map((x) => [x.id, x.name, x.scopes, x.revokedAt]),
    [[id, 'viewer', ['read'], null]],
  );
  assert.ok(!list.stdout.includes(token.slice(17)), 'list never shows the secret');
  assert.ok(!list.stdout.includes('hash'), 'list never shows the hash');

  const revoked = await runCli(['token', 'revoke', id, '--data', dataDir]);
  assert.equal(revoked.code, 0, revoked.stderr);
  const end = Date.now() + 5000;
  while ((await get(token)).status !== 401) {
    if (Date.now() > end) assert.fail('the running server still accepts a revoked token');
    await new Promise((r) => setTimeout(r, 100));
  }
  const secret = token.slice(17);
  assert.ok(!server.stdout().includes(secret) && !server.stderr().includes(secret), 'a token secret appeared in the server logs');
  assert.ok(!server.stdout().includes(wrong.slice(17)), 'a presented (wrong) secret appeared in the server logs');
});
