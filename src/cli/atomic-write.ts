// Replace a file so a reader sees the old content or the new, never a half-written one: write a
// temporary file in the same directory (same file system, so rename is atomic), fsync it, give
// it the old file's mode, rename it over the target, fsync the directory so the rename itself
// survives a crash. A new file gets `newMode`.
import { closeSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync, fchmodSync, constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

export function writeFileAtomic(path: string, content: string, newMode = 0o600): void {
  let mode = newMode;
  try { mode = statSync(path).mode & 0o7777; } catch { /* new file */ }
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    const buf = Buffer.from(content, 'utf8');
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
    fchmodSync(fd, mode);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw err;
  }
  closeSync(fd);
  try { renameSync(tmp, path); } catch (err) {
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw err;
  }
  try {
    const dfd = openSync(dir, constants.O_RDONLY);
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* some file systems refuse fsync on a directory; the rename is done either way */ }
}
