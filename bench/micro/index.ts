// Runs every micro-benchmark (one per hot function) in turn: `npm run bench:micro [-- name...]`.
// Each module exports run(); their own files document options when run directly.
const ALL = ['codec', 'write', 'topics', 'ring', 'store', 'acl'] as const;
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const name of ALL) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  console.log(`\n## micro: ${name}`);
  const mod = (await import(`./${name}.ts`)) as { run: (opts?: unknown) => unknown };
  await mod.run();
}
