// The package build's second step (npm run build, after tsc has written dist/ with .d.ts): each
// thread's entry bundled and minified over tsc's file of the same path, dist/main/index.js (the
// CLI's main thread) and dist/worker/index.js (every shard, also under createBroker). Why: V8
// keeps every module's source text (Function.prototype.toString) and a record per module, so
// ~100 Shoal modules and their packages' sources cost each isolate megabytes at idle
// (BENCHMARKS.md, "Footprint"). The rest of dist/ stays tsc's: the library entry, the hook
// backends a shard imports by URL, the password CLI, the hash pool's worker. This step also copies
// the non-TypeScript files the code reads.
import { build } from 'esbuild';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { relative, resolve, sep } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const src = resolve(root, 'src');
const posix = (p) => p.split(sep).join('/');

// Packages that stay in node_modules: native addons (lmdb), packages that start workers from
// their own files (piscina, pino-pretty) or that load only with a feature on (NATS, Redis,
// PostgreSQL, the admin port's prom-client and uPlot, ws; dynamic imports in the code).
const external = ['lmdb', 'piscina', 'pino-pretty', 'ws', '@nats-io/*', 'ioredis', 'pg', 'prom-client', 'uplot'];

// Modules whose one instance per thread must be tsc's, because modules loaded from that tree by
// URL (hooks, the first-party backends) share it: hooks subclass HookBase (the registry compares
// their methods with its prototype's), the backends count into common.ts's sink, ShoalError is
// checked with instanceof on both sides.
const shared = new Set(['worker/hooks/hook.ts', 'worker/hooks/backends/common.ts', 'shared/errors.ts'].map((p) => resolve(src, p)));

// Every output file sits one folder below dist/ (main/, worker/, chunks/), so '../' from any of
// them is dist/, and a source module's place in tsc's tree is '../' + its path under src/.
const inTree = (file) => `../${posix(relative(src, file)).replace(/\.ts$/, '.js')}`;

const tree = {
  name: 'shoal-tree',
  setup(b) {
    b.onResolve({ filter: /\.ts$/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const file = resolve(args.resolveDir, args.path);
      return shared.has(file) ? { path: inTree(file), external: true } : undefined;
    });
    // import.meta.url in a bundled module keeps meaning that module's place in dist/: the worker
    // entry, the hash pool's worker and the built-in hooks are found relative to it.
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      const url = `new URL(${JSON.stringify(inTree(args.path))}, import.meta.url).href`;
      return { contents: text.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};

const common = {
  absWorkingDir: root,
  outdir: 'dist',
  entryNames: '[dir]/[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true, // imports made on first need (admin port, cluster, password pool) stay lazy
  format: 'esm',
  platform: 'node',
  target: 'node26',
  minify: true,
  legalComments: 'none',
  external,
  alias: {
    // mqtt-packet's parser keeps its bytes in bl(), the stream flavour of BufferList, which brings
    // all of readable-stream; the parser uses only the list's methods, which BufferList alone has.
    bl: 'bl/BufferList.js',
    debug: './build/shims/debug.cjs',
  },
  // CommonJS packages bundled into ESM call require() for Node's built-ins.
  banner: { js: "import{createRequire as __shoalRequire}from'node:module';const require=__shoalRequire(import.meta.url);" },
  allowOverwrite: true,
  metafile: true,
  logLevel: 'warning',
  plugins: [tree],
};

// One build per thread, so a thread's chunks are only its own lazy parts.
const results = await Promise.all([
  build({ ...common, entryPoints: { 'main/index': 'src/main/index.ts' } }),
  build({ ...common, entryPoints: { 'worker/index': 'src/worker/index.ts' } }),
]);
// Files the code reads beside itself, which tsc does not copy: the admin port's dashboard page
// and script (without them a built broker with --http-port stopped at start with ENOENT).
for (const f of ['main/admin/dashboard/page.html', 'main/admin/dashboard/app.js']) await copyFile(resolve(src, f), resolve(root, 'dist', f));
const meta = process.argv.indexOf('--metafile');
if (meta > 0) await writeFile(process.argv[meta + 1], JSON.stringify(results.map((r) => r.metafile)));
