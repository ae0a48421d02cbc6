// The Dockerfile and the systemd unit. No Docker engine is available to the test suite, so the
// Dockerfile is read and what its steps do is done outside a container: every stage gets a
// directory standing for its file system, COPY copies into it, RUN runs (npm ci from the
// lockfile; the package build; creating the volume's directory), and the run stage's ENTRYPOINT starts the broker
// with the image's ENV and config file; then the HEALTHCHECK command must pass, and fail once
// the broker is stopped.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { freePort, isMosquitto } from '../helpers/broker.ts';
import { stopChild } from '../helpers/child-process.ts';
import { execForm, parseDockerfile, type Stage } from './dockerfile.ts';
import { REPO_ROOT } from './run.ts';

const hasNpm = spawnSync('npm', ['--version']).status === 0;
const skip = isMosquitto ? 'Shoal only' : hasNpm ? false : 'npm not installed';
const stages = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const runStage = stages.at(-1)!;
const steps = (s: Stage, op: string) => s.steps.filter((i) => i.op === op);
const root = mkdtempSync(join(tmpdir(), 'shoal-docker-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('Dockerfile', { skip }, () => {
  test('multi-stage, non-root, config in /etc/shoal/shoal.yaml, data in a volume, a HEALTHCHECK', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    assert.ok(stages.every((s) => /^node:26[.-]/.test(s.from)), 'every stage on Node 26');
    const user = steps(runStage, 'USER').at(-1)?.args;
    assert.ok(user !== undefined && !/^(root|0)(:|$)/.test(user), `runs as a non-root user, got ${user}`);
    assert.deepEqual(steps(runStage, 'VOLUME').map((i) => i.args), ['/var/lib/shoal']);
    assert.ok(steps(runStage, 'ENV').some((i) => i.args === 'SHOAL_CONFIG=/etc/shoal/shoal.yaml'));
    assert.ok(steps(runStage, 'COPY').some((i) => i.args === 'deploy/shoal.yaml /etc/shoal/shoal.yaml'));
    assert.equal((parse(readFileSync(join(REPO_ROOT, 'deploy', 'shoal.yaml'), 'utf8')) as Record<string, unknown>)['data-dir'], '/var/lib/shoal', 'the data directory is the volume');
    assert.equal(steps(runStage, 'HEALTHCHECK').length, 1);
    assert.ok(!steps(runStage, 'COPY').some((i) => /node_modules/.test(i.args) && !i.args.startsWith('--from=')), 'node_modules comes from the build stage, not the context');
    assert.ok(steps(stages[0]!, 'RUN').some((i) => /^npm ci --omit=dev\b/.test(i.args)), 'installs from the lockfile without dev dependencies');
  });

  test('its steps, run outside a container: install from the lockfile, start with the image\'s config, health check passes, then fails once stopped', async () => {
    const fsOf = new Map<Stage, string>();
    const env: Record<string, string> = {};
    let cwd = '';
    for (const [n, stage] of stages.entries()) {
      const fsRoot = join(root, `stage${n}`);
      const at = (p: string) => join(fsRoot, p);
      fsOf.set(stage, fsRoot);
      let workdir = '/';
      for (const s of stage.steps) {
        if (s.op === 'WORKDIR') { workdir = s.args; mkdirSync(at(workdir), { recursive: true }); }
        else if (s.op === 'COPY') {
          const words = s.args.split(/\s+/);
          const from = words[0]!.startsWith('--from=') ? words.shift()!.slice('--from='.length) : null;
          const dest = words.pop()!;
          const srcRoot = from === null ? REPO_ROOT : fsOf.get(stages.find((x) => x.name === from)!)!;
          const target = dest.startsWith('/') ? at(dest) : at(join(workdir, dest));
          for (const src of words) {
            const into = dest.endsWith('/') ? join(target, src.split('/').at(-1)!) : target;
            mkdirSync(dirname(into), { recursive: true });
            cpSync(join(srcRoot, src), into, { recursive: true }); // --from paths are absolute in that stage
          }
        } else if (s.op === 'RUN') {
          if (/^npm (ci|run build)\b/.test(s.args)) {
            const r = spawnSync('sh', ['-c', s.args], { cwd: at(workdir), encoding: 'utf8', timeout: 180_000, env: { ...process.env, npm_config_prefer_offline: 'true' } });
            assert.equal(r.status, 0, `Dockerfile:${s.line}: ${s.args}\n${r.stderr}`);
          } else {
            const m = /^install -d (?:-[og] \S+ )*(\S+)$/.exec(s.args);
            assert.ok(m, `Dockerfile:${s.line}: a RUN step this test does not know how to run outside a container: ${s.args}`);
            mkdirSync(at(m[1]!), { recursive: true });
          }
        } else if (s.op === 'ENV' && stage === runStage) {
          const [k, v] = s.args.split('=', 2) as [string, string];
          env[k] = v.startsWith('/') ? at(v) : v; // an absolute path inside the image
        }
      }
      if (stage === runStage) cwd = at(workdir);
    }
    const fsRoot = fsOf.get(runStage)!;
    assert.ok(existsSync(join(cwd, 'node_modules', 'lmdb')), 'runtime dependencies installed');
    assert.ok(!existsSync(join(cwd, 'node_modules', 'mqtt')), 'no test-only packages');
    assert.ok(!existsSync(join(cwd, 'node_modules', 'typescript')), 'no dev tools');
    assert.ok(existsSync(join(cwd, 'dist', 'worker', 'index.js')) && !existsSync(join(cwd, 'src')), 'the image runs the build, not the sources');

    // The container's environment, but on free ports and with the volume where this test put it.
    assert.equal(env.SHOAL_HTTP_PORT, '9090', 'the image turns the admin port on: the health check asks /health');
    const port = await freePort();
    const httpPort = await freePort();
    const childEnv = { PATH: process.env.PATH ?? '', ...env, SHOAL_PORT: String(port), SHOAL_HTTP_PORT: String(httpPort), SHOAL_HOST: '127.0.0.1', SHOAL_SHARDS: '1', SHOAL_DATA_DIR: join(fsRoot, 'var/lib/shoal') };
    const [cmd, ...args] = execForm(steps(runStage, 'ENTRYPOINT')[0]!.args);
    assert.equal(cmd, 'node');
    const broker = spawn(process.execPath, args, { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    broker.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    try {
      await new Promise<void>((res, rej) => {
        const t = setTimeout(() => rej(new Error(`no start line in 20 s\n${out}\n${err}`)), 20_000);
        broker.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; if (/listening on/.test(out)) { clearTimeout(t); res(); } });
        broker.once('exit', (code) => { clearTimeout(t); rej(new Error(`exited ${code}\n${out}\n${err}`)); });
      });
      assert.match(out, new RegExp(`listening on mqtt://127\\.0\\.0\\.1:${port}, http://127\\.0\\.0\\.1:${httpPort} \\(1 shard, persistence durable, data ${fsRoot.replaceAll('.', '\\.')}/var/lib/shoal\\)`));
      assert.ok(existsSync(join(fsRoot, 'var/lib/shoal/data.mdb')), 'data in the volume');
      const hc = execForm(steps(runStage, 'HEALTHCHECK')[0]!.args);
      const check = () => spawnSync(process.execPath, hc.slice(1), { cwd, env: childEnv, encoding: 'utf8', timeout: 10_000 });
      const healthy = check();
      assert.equal(healthy.status, 0, healthy.stderr);
      const stopped = await stopChild(broker);
      assert.deepEqual([stopped.how, stopped.code], ['exited', 0], err);
      const sick = check();
      assert.equal(sick.status, 1);
      assert.match(sick.stderr, /^unhealthy: http:\/\/127\.0\.0\.1:\d+\/health: ECONNREFUSED/);
    } finally {
      await stopChild(broker, { signal: 'SIGKILL' });
    }
  });
});

describe('systemd unit', { skip }, () => {
  const unit = readFileSync(join(REPO_ROOT, 'deploy', 'shoal.service'), 'utf8');
  test('starts the broker with the config file, restarts on failure but not on a refused configuration (exit 2)', () => {
    assert.match(unit, /^ExecStart=\/usr\/bin\/node \/opt\/shoal\/bin\/shoal\.js --config \/etc\/shoal\/shoal\.yaml$/m);
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^RestartPreventExitStatus=2$/m);
    assert.match(unit, /^StateDirectory=shoal$/m);
    assert.match(unit, /^KillSignal=SIGTERM$/m);
  });

  test('systemd-analyze verify finds nothing wrong with it', { skip: spawnSync('systemd-analyze', ['--version']).status === 0 ? false : 'systemd-analyze not installed' }, () => {
    const r = spawnSync('systemd-analyze', ['verify', join(REPO_ROOT, 'deploy', 'shoal.service')], { encoding: 'utf8', timeout: 20_000 });
    // /usr/bin/node and /opt/shoal need not exist on the test machine; anything else is a defect.
    const problems = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/is not executable|No such file or directory|Command .* is not executable/.test(l));
    assert.deepEqual(problems, [], r.stderr);
  });
});
