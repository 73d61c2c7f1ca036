// RolloutId = `<channel>@<channelRef>` (spec §1.8). It names files in release directories and agent
// caches, so anything that could escape a directory is refused before it reaches a path.

export interface RolloutIdParts {
  readonly channel: string;
  readonly channelRef: string;
}

/** `<channel>@<channelRef>`. The channel may not contain `@`, or the id would not split back. */
export function rolloutIdOf(channel: string, channelRef: string): string {
  if (channel.includes('@')) throw new Error(`channel ${JSON.stringify(channel)} contains "@"`);
  return `${channel}@${channelRef}`;
}

/** Splits on the first `@` (spec §1.8); `null` when there is none or the channel is empty. */
export function parseRolloutId(id: string): RolloutIdParts | null {
  const at = id.indexOf('@');
  if (at <= 0) return null;
  return { channel: id.slice(0, at), channelRef: id.slice(at + 1) };
}

/**
 * The control plane's route validator (`looks_like_rollout_id`, spec §1.8): exactly one `@`, a
 * channel of `[a-z0-9_-]`, a non-empty lowercase hex ref. Legacy 64-hex content hashes fail it.
 */
export function looksLikeRolloutId(id: string): boolean {
  return /^[a-z0-9_-]+@[0-9a-f]+$/.test(id);
}

/**
 * True when `id` can name a file (`<dir>/<id>.json`) without leaving that directory: no path
 * separators, no `..`, no NUL or other control characters (spec §6.8 path-traversal guard).
 */
export function isPathSafeRolloutId(id: string): boolean {
  if (parseRolloutId(id) === null || id.includes('..') || id.includes('/') || id.includes('\\')) return false;
  return [...id].every((ch) => {
    const code = ch.charCodeAt(0);
    return code >= 0x20 && code !== 0x7f;
  });
}
