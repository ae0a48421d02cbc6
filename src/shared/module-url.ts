// Worker threads load their entry by URL, which the package build's import rewriting does not
// see: from the checkout (type stripping) the sibling is a .ts file, from the built package
// (dist/) a .js file. The caller's own URL says which.

/** The URL of module `relative` (written with .ts) next to `base` (the caller's import.meta.url). */
export function moduleUrl(relative: string, base: string): URL {
  return new URL(base.endsWith('.ts') ? relative : relative.replace(/\.ts$/, '.js'), base);
}
