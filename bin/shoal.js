#!/usr/bin/env node
// Plain JavaScript on purpose: an older Node cannot load the TypeScript entry at all, so the
// version check must run before anything else and say one clear line.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 26 || (major === 26 && minor < 10)) {
  console.error(`shoal: needs Node.js >= 26.10 (found ${process.versions.node}); run it through npm (npm start), which uses the Node 26 from devDependencies`);
  process.exit(1);
}
// A checkout runs its TypeScript sources (type stripping, no build); the installed package has
// no src/, only the build in dist/ (Node does not strip types inside node_modules).
import { existsSync } from 'node:fs';
const fromSource = existsSync(new URL('../src/main/index.ts', import.meta.url));
const root = fromSource ? '../src' : '../dist';
const ext = fromSource ? '.ts' : '.js';
// `shoal passwd ...` manages a password file (src/cli/passwd.ts); it must not start the broker.
if (process.argv[2] === 'passwd') {
  const { main } = await import(`${root}/cli/passwd${ext}`);
  await main(process.argv.slice(3));
}
await import(`${root}/main/index${ext}`);
