// Dependency hygiene: the runtime dependencies are what src/ imports (an operator's
// `npm ci --omit=dev` gets what the broker runs and nothing the tests or benches use).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './run.ts';

function packagesImportedBy(dir: string): Set<string> {
  const found = new Set<string>();
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.ts')) continue;
    const text = readFileSync(join(e.parentPath, e.name), 'utf8');
    // Static imports and re-exports at the start of a line, and dynamic import('...').
    for (const m of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*'([^'.][^']*)'|\bimport\(\s*'([^'.][^']*)'/gm)) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith('node:')) continue;
      found.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  }
  return found;
}

test('runtime dependencies are exactly what src/ imports; test and bench packages are devDependencies', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  const imported = packagesImportedBy(join(REPO_ROOT, 'src'));
  assert.deepEqual(Object.keys(pkg.dependencies).sort(), [...imported].sort());
  for (const d of ['mqtt', 'hdr-histogram-js']) assert.ok(d in pkg.devDependencies, `${d} is a devDependency`);
  for (const v of [...Object.values(pkg.dependencies), ...Object.values(pkg.devDependencies)]) assert.match(v, /^\d+\.\d+\.\d+$/, 'exact versions');
});
