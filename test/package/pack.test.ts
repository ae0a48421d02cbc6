// The package as a user gets it: `npm pack` (which builds dist/ on prepack), the tarball installed
// into a fresh project with `npm install` (from the local cache where it can), and the examples
// run there with plain node: createBroker, a hook, a publish, a stop. Also the CLI of the
// installed package, started for real (its threads run the bundles of build/bundle.mjs) and used
// by a client. Slow (a build and an install), so one test does it all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stopChild } from '../helpers/child-process.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };

test('the packed tarball installs into a project and runs the embedding example and the CLI', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-pack-'));
  try {
    const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 }).trim().split('\n').pop()!;
    const tarball = join(dir, out);
    const app = join(dir, 'app');
    cpSync(join(ROOT, 'examples'), app, { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'shoal-user', version: '1.0.0', type: 'module', private: true }));
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts=false', tarball, `mqtt@${pkg.devDependencies.mqtt}`], { cwd: app, encoding: 'utf8', timeout: 180_000 });
    const run = spawnSync(process.execPath, ['embed.mjs'], { cwd: app, encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /client:connect example on shard [01]/);
    assert.match(run.stdout, /received loud\/hello HELLO FROM A CLIENT/);
    assert.match(run.stdout, /received loud\/program hello from the program/);
    assert.match(run.stdout, /clients example/);
    assert.match(run.stdout, /closed/);
    // Types ship with it; the first-party hook loads by its package name from dist/.
    assert.ok(existsSync(join(app, 'node_modules', 'shoal', 'dist', 'index.d.ts')));
    assert.ok(!existsSync(join(app, 'node_modules', 'shoal', 'src')));
    writeFileSync(join(app, 'http-hook.mjs'), `import { createBroker } from 'shoal';
const b = await createBroker({ port: 0, host: '127.0.0.1', shards: 1, persistence: 'memory', logLevel: 'silent', hooks: [{ module: 'shoal/hooks/http', options: { url: 'http://127.0.0.1:9/' } }] });
await b.close();
console.log('http hook loaded');
`);
    const h = spawnSync(process.execPath, ['http-hook.mjs'], { cwd: app, encoding: 'utf8', timeout: 30_000 });
    assert.equal(h.stdout.trim(), 'http hook loaded', h.stderr);
    // The installed CLI runs from dist/ (no src/ in the package).
    const v = spawnSync(process.execPath, [join(app, 'node_modules', 'shoal', 'bin', 'shoal.js'), '--version'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(v.stdout.trim(), `shoal ${pkg.version}`, v.stderr);
    // Each thread's entry is one bundle: beside its own lazy chunks it imports only the tsc modules
    // that hooks loaded by URL share with it (build/bundle.mjs).
    const installed = join(app, 'node_modules', 'shoal', 'dist');
    for (const entry of ['main/index.js', 'worker/index.js']) {
      const relative = [...readFileSync(join(installed, entry), 'utf8').matchAll(/from\s*["'](\.{1,2}\/[^"']+)["']/g)].map((m) => m[1]!);
      assert.ok(relative.length > 0, entry);
      for (const r of relative) assert.match(r, /^\.\.\/(chunks\/|shared\/errors\.js$|worker\/hooks\/hook\.js$|worker\/hooks\/backends\/common\.js$)/, `${entry} imports ${r}`);
    }
    // The installed CLI serves: two shards, a v5 subscriber and a 3.1.1 publisher, the admin
    // port's dashboard (files the build copies), a clean stop.
    const cli = spawn(process.execPath, [join(app, 'node_modules', 'shoal', 'bin', 'shoal.js'), '--host', '127.0.0.1', '--port', '0', '--shards', '2', '--persistence', 'memory', '--log-level', 'warn', '--http-port', '0'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    cli.stderr.on('data', (d: Buffer) => { stderr += d; });
    try {
      let admin = '';
      const port = await new Promise<number>((res, rej) => {
        let out = '';
        cli.stdout.on('data', (d: Buffer) => {
          out += d;
          const m = /mqtt:\/\/127\.0\.0\.1:(\d+)/.exec(out);
          admin = /http:\/\/127\.0\.0\.1:\d+/.exec(out)?.[0] ?? '';
          if (m) res(Number(m[1]));
        });
        cli.once('exit', (code) => rej(new Error(`the CLI exited with ${code}: ${stderr}`)));
        setTimeout(() => rej(new Error(`no start line in 30 s: ${stderr}`)), 30_000).unref();
      });
      writeFileSync(join(app, 'cli-client.mjs'), `import mqtt from 'mqtt';
const url = 'mqtt://127.0.0.1:' + process.argv[2];
const sub = await mqtt.connectAsync(url, { clientId: 'sub', protocolVersion: 5 });
await sub.subscribeAsync('cli/#', { qos: 1 });
const got = new Promise((resolve) => sub.on('message', (topic, payload) => resolve(topic + ' ' + payload)));
const pub = await mqtt.connectAsync(url, { clientId: 'pub', protocolVersion: 4 });
await pub.publishAsync('cli/hello', 'through the installed CLI', { qos: 1 });
console.log(await got);
await pub.endAsync(); await sub.endAsync();
`);
      const c = spawnSync(process.execPath, ['cli-client.mjs', String(port)], { cwd: app, encoding: 'utf8', timeout: 30_000 });
      assert.equal(c.stdout.trim(), 'cli/hello through the installed CLI', c.stderr);
      const page = await fetch(`${admin}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<html/i);
      assert.equal((await fetch(`${admin}/dashboard/app.js`)).status, 200);
      const stopped = await stopChild(cli);
      assert.deepEqual([stopped.how, stopped.code], ['exited', 0], stderr);
    } finally {
      await stopChild(cli, { signal: 'SIGKILL' });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
