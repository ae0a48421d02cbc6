// Absolute paths inside the repository, so launchers work from any working directory.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fromRoot = (...parts: string[]): string => path.join(repoRoot, ...parts);
