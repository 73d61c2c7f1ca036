// `--current-system-path` (default /run/current-system): the symlink NixOS points at the running
// system closure. Activation is verified against it, never assumed (contract §2).
import { readlink } from 'node:fs/promises';
import { basename } from 'node:path';

/** Basename of the link's target, or null when there is no link (fresh install, non-NixOS test host). */
export async function readCurrentClosure(currentSystemPath: string): Promise<string | null> {
  try {
    return basename(await readlink(currentSystemPath));
  } catch {
    return null;
  }
}

/** A closure given as a store path or a basename, as a basename (the form the manifest uses). */
export const closureBasename = (closure: string): string => basename(closure);
