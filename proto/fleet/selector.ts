// Host selectors (spec §1.6). The signed artifacts carry the flat form that the runtime matchers
// understand; the `and`/`not` combinators exist only in the fleet description and are resolved by
// `release build` (spec §1.4 #13).
import { z } from 'zod';

const stringList = z
  .array(z.string())
  .nullish()
  .transform((v) => v ?? []);

/** Reader form: absent and `null` read alike (spec §1.3); `and`/`not` are ignored like Rust does. */
export const selectorSchema = z.object({
  tags: stringList,
  tagsAny: stringList,
  hosts: stringList,
  channel: z
    .string()
    .nullish()
    .transform((v) => v ?? null),
  all: z
    .boolean()
    .nullish()
    .transform((v) => v ?? false),
});
export type Selector = z.infer<typeof selectorSchema>;

/** What a selector is matched against. */
export interface SelectorSubject {
  readonly name: string;
  readonly channel: string;
  readonly tags: readonly string[];
}

/**
 * The flat matcher of spec §1.6: any populated rule fires. An empty selector matches nothing, and
 * an empty `tags` list is not "has all of no tags".
 */
export function matchesSelector(selector: Selector, host: SelectorSubject): boolean {
  if (selector.all) return true;
  if (selector.tags.length > 0 && selector.tags.every((t) => host.tags.includes(t))) return true;
  if (selector.tagsAny.length > 0 && selector.tagsAny.some((t) => host.tags.includes(t))) return true;
  if (selector.hosts.includes(host.name)) return true;
  return selector.channel !== null && selector.channel === host.channel;
}

/** Names of the hosts a selector matches, sorted (manifests freeze these lists, spec §1.7). */
export function resolveSelector(selector: Selector, hosts: Iterable<SelectorSubject>): string[] {
  const names: string[] = [];
  for (const host of hosts) if (matchesSelector(selector, host)) names.push(host.name);
  return names.sort();
}

/**
 * Stable label used in budget-gate reasons (spec §1.6). Not an identity: two different selectors
 * can share a summary, so compare selectors structurally when identity matters.
 */
export function selectorSummary(selector: Selector): string {
  const joined = (xs: readonly string[]) => [...xs].sort().join(',');
  if (selector.all) return 'all';
  if (selector.channel !== null) return `channel:${selector.channel}`;
  if (selector.tags.length > 0) return `tags:${joined(selector.tags)}`;
  if (selector.tagsAny.length > 0) return `tags_any:${joined(selector.tagsAny)}`;
  if (selector.hosts.length > 0) return `hosts:${joined(selector.hosts)}`;
  return 'unknown';
}
