// Crash-safe file replacement: write a temporary file, fsync it, rename it over the target, fsync
// the directory. A reader (or a restart after kill -9) sees the old file or the new one, never a
// torn one.
import { open, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

let counter = 0;

export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = join(dirname(path), `.tmp-${process.pid}-${counter++}-${basenameOf(path)}`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dirname(path));
}

export async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function basenameOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

/** Leftovers of writes interrupted before their rename: safe to delete, never to read. */
export const isTemporaryFile = (name: string): boolean => name.startsWith('.tmp-');
