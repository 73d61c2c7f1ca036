// Bounded tails of command output for events (`stderrTail`, probe `failureReason`): the end of the
// output is where the reason usually is, and the wire must not carry megabytes (spec §6.11, §6.12).
import { open } from 'node:fs/promises';

const TRUNCATED = '[truncated]...';

/**
 * The end of `buf` as text of at most `maxBytes` bytes, the truncation marker included, starting
 * on a UTF-8 character boundary.
 */
export function utf8Tail(buf: Buffer, maxBytes: number): string {
  if (buf.length <= maxBytes) return buf.toString('utf8');
  let start = buf.length - Math.max(0, maxBytes - Buffer.byteLength(TRUNCATED));
  // Skip continuation bytes (10xxxxxx) so the cut never splits a character.
  while (start < buf.length && ((buf[start] as number) & 0xc0) === 0x80) start++;
  return `${TRUNCATED}${buf.subarray(start).toString('utf8')}`;
}

/** The tail of a file, or "" when it cannot be read (output capture is best effort). */
export async function readFileTail(path: string, maxBytes: number): Promise<string> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(path, 'r');
    const { size } = await fh.stat();
    // Read a few bytes more than needed so utf8Tail can find a boundary and mark the cut.
    const want = Math.min(size, maxBytes + 4);
    const buf = Buffer.alloc(want);
    await fh.read(buf, 0, want, size - want);
    return utf8Tail(buf, maxBytes);
  } catch {
    return '';
  } finally {
    await fh?.close();
  }
}
