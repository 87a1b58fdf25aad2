/**
 * The packages as users install them: `npm pack` of each workspace package, `npm install` of the
 * tarballs into an empty directory (dependencies from the npm cache when it has them:
 * `--prefer-offline`), then the installed `logsrv` binary serves, sends and tails, the UI is
 * served from the installed @logsrv/web, and a script importing the installed @logsrv/client
 * delivers events over HTTP and UDP.
 *
 * better-sqlite3's install step downloads a prebuilt binary or compiles SQLite (minutes here).
 * The test hands it a local prebuild made from the workspace's own build — the offline mechanism
 * prebuild-install supports (`npm_config_better_sqlite3_local_prebuilds`) — so the install takes
 * seconds; our packaging is what is under test.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { childEnv, ROOT, request, sleep, tempDir } from './helpers.js';

const PACKAGES = ['@logsrv/protocol', '@logsrv/client', '@logsrv/server', '@logsrv/web', '@logsrv/cli'];

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}, input?: string): { stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(cmd, args, { cwd, env: { ...childEnv(), ...env }, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 240_000 });
    return { stdout, stderr: '' };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    throw new Error(`${cmd} ${args.join(' ')} exited ${e.status}\nstdout:\n${e.stdout}\nstderr:\n${e.stderr}`);
  }
}

/** A prebuild-install archive of the workspace's better-sqlite3 binary, named as its download would be. */
function localPrebuild(dir: string): string {
  const require = createRequire(join(ROOT, 'packages', 'server', 'package.json'));
  const pkgDir = join(require.resolve('better-sqlite3/package.json'), '..');
  const version = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version as string;
  const stage = join(dir, 'stage');
  mkdirSync(join(stage, 'build', 'Release'), { recursive: true });
  copyFileSync(join(pkgDir, 'build', 'Release', 'better_sqlite3.node'), join(stage, 'build', 'Release', 'better_sqlite3.node'));
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  run('tar', ['czf', join(dir, name), '-C', stage, 'build'], dir);
  return dir;
}

test('npm pack tarballs install into an empty directory and run: logsrv serve/send/tail, the web UI, the SDK over HTTP and UDP', {
  timeout: 300_000,
}, async (t) => {
  const work = tempDir(t, 'logsrv-install-');
  const packs = join(work, 'packs');
  mkdirSync(packs);
  run('npm', ['pack', '--pack-destination', packs, ...PACKAGES.flatMap((p) => ['-w', p])], ROOT);
  const tarballs = readdirSync(packs)
    .filter((f) => f.endsWith('.tgz'))
    .map((f) => join(packs, f));
  assert.equal(tarballs.length, PACKAGES.length, readdirSync(packs).join(', '));
  // Shipped code only: no sources, tests or build state in a tarball.
  for (const tgz of tarballs) {
    const files = run('tar', ['tzf', tgz], work).stdout.split('\n').filter(Boolean);
    assert.ok(files.includes('package/package.json'), tgz);
    const stray = files.filter((f) => /^package\/(src|test)\/|\.tsbuildinfo$|\.test\.ts$/.test(f));
    assert.deepEqual(stray, [], `${tgz} ships only dist (and bin)`);
  }

  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), '{ "private": true, "type": "module" }\n');
  const prebuilds = localPrebuild(join(work, 'prebuilds'));
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...tarballs], app, {
    npm_config_better_sqlite3_local_prebuilds: prebuilds,
    npm_config_nodedir: '/usr',
  });
  const bin = join(app, 'node_modules', '.bin', 'logsrv');
  assert.equal(run(process.execPath, [bin, '--version'], app).stdout.trim(), '0.1.0');

  // The installed server.
  const server: ChildProcess = spawn(
    process.execPath,
    [bin, 'serve', '--http', '127.0.0.1:0', '--udp', '127.0.0.1:0', '--data', './data', '--log-level', 'warn'],
    {
      cwd: app,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  t.after(() => server.kill('SIGKILL'));
  let err = '';
  server.stderr?.setEncoding('utf8').on('data', (s: string) => (err += s));
  server.stdout?.resume();
  for (let i = 0; i < 300 && !/logsrv listening on/.test(err); i++) await sleep(50);
  const m = /logsrv listening on (http:\/\/\S+) .*UDP 127\.0\.0\.1:(\d+)/.exec(err);
  assert.ok(m, `the installed server did not start:\n${err}`);
  const url = m[1] as string;
  const udpPort = Number(m[2]);

  // The web UI comes from the installed @logsrv/web.
  const page = await request(`${url}/`, { headers: { accept: 'text/html' } });
  assert.equal(page.status, 200);
  assert.match(page.text, /<script type="module"[^>]+src="\/assets\//);

  // The SDK, imported by name from the install.
  writeFileSync(
    join(app, 'sdk.mjs'),
    `import { createClient } from '@logsrv/client';
const http = createClient({ url: process.argv[2], transport: 'http' });
http.event({ session: 'installed', key: 'via', value: 'http' });
const h = await http.close(5000);
const udp = createClient({ url: process.argv[2], transport: 'udp', udpPort: Number(process.argv[3]) });
udp.event({ session: 'installed', key: 'via', value: 'udp' });
const u = await udp.close(5000);
console.log(JSON.stringify({ http: h, udp: u }));
`,
  );
  const stats = JSON.parse(run(process.execPath, ['sdk.mjs', url, String(udpPort)], app).stdout) as { http: { sent: number }; udp: { sent: number } };
  assert.equal(stats.http.sent, 1);
  assert.equal(stats.udp.sent, 1);

  // An application that only sends events installs the SDK alone: no server, no native code.
  const sdkOnly = join(work, 'sdk-only');
  mkdirSync(sdkOnly);
  writeFileSync(join(sdkOnly, 'package.json'), '{ "private": true, "type": "module" }\n');
  const sdkTarballs = tarballs.filter((f) => /logsrv-(protocol|client)-/.test(f));
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...sdkTarballs], sdkOnly);
  assert.deepEqual(readdirSync(join(sdkOnly, 'node_modules', '@logsrv')).sort(), ['client', 'protocol']);
  assert.ok(!readdirSync(join(sdkOnly, 'node_modules')).includes('better-sqlite3'), 'no native dependency');
  copyFileSync(join(app, 'sdk.mjs'), join(sdkOnly, 'sdk.mjs'));
  const alone = JSON.parse(run(process.execPath, ['sdk.mjs', url, String(udpPort)], sdkOnly).stdout) as { http: { sent: number }; udp: { sent: number } };
  assert.equal(alone.http.sent, 1);

  // UDP has no answer: wait until the datagram's event is stored before the session goes on.
  for (let i = 0; i < 100; i++) {
    const r = await request(`${url}/v1/sessions/installed/events`);
    if ((JSON.parse(r.text) as { events: unknown[] }).events.length === 4) break;
    await sleep(50);
  }

  // The CLI's agent and tail.
  const sent = run(
    process.execPath,
    [bin, 'send', '--session', 'installed', '--no-tee', '--server', url, '--spool', join(work, 'spool')],
    app,
    {},
    'one\ntwo\n',
  );
  assert.equal(sent.stdout, '');
  const tail = run(process.execPath, [bin, 'tail', 'installed', '--json', '--server', url], app);
  const events = tail.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { key: string; value: unknown });
  // The four SDK events (two runs, HTTP and UDP: UDP carries no order with HTTP), then the send's.
  assert.deepEqual(
    events
      .slice(0, 4)
      .map((e) => `${e.key}=${String(e.value)}`)
      .sort(),
    ['via=http', 'via=http', 'via=udp', 'via=udp'],
  );
  assert.deepEqual(
    events.slice(4).map((e) => [e.key, e.value]),
    [
      ['stdout', 'one'],
      ['stdout', 'two'],
      ['session.end', { reason: 'end of input' }],
    ],
  );
});
