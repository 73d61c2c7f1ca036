// mkFleet for nixfleet-ts: validates a fleet description against the invariants of spec §1.4 and
// resolves it into the `fleet.resolved.json` document CI signs (spec §1.2). Like the original, it
// collects every violation before failing, so an operator fixes a broken fleet in one pass; each
// violation names the field path at fault. Warnings never fail the build.
import { type FleetIssue, formatFieldPath, type PathSegment } from './fieldPath.ts';
import {
  type FleetInput,
  fleetInputSchema,
  type InputSelector,
  type PinInput,
  type ProbeInput,
} from './fleetInput.ts';
import { matchesSelector, type Selector, type SelectorSubject } from './selector.ts';
import { issuesFromZod } from './zodIssues.ts';

/** The signed fleet document as CI writes it: optional scalars as explicit `null` (spec §1.3). */
export interface FleetResolvedDocument {
  schemaVersion: 1;
  hosts: Record<string, ResolvedHostDocument>;
  channels: Record<
    string,
    {
      rolloutPolicy: string;
      reconcileIntervalMinutes: number;
      freshnessWindow: number;
      signingIntervalMinutes: number;
    }
  >;
  rolloutPolicies: Record<string, ResolvedPolicyDocument>;
  waves: Record<string, { hosts: string[]; soakMinutes: number }[]>;
  edges: { gated: string; gates: string; reason: string | null }[];
  channelEdges: { gates: string; gated: string; reason: string | null }[];
  disruptionBudgets: {
    selector: SelectorDocument;
    maxInFlight: number | null;
    maxInFlightPct: number | null;
  }[];
  effectiveHealthChecks: Record<string, Record<string, ProbeDocument>>;
  meta: { schemaVersion: 1; signedAt: string; ciCommit: string | null; signatureAlgorithm: string };
}

export interface ResolvedHostDocument {
  platform: string;
  tags: string[];
  channel: string;
  closureHash: string | null;
  pubkey: string | null;
  /** Omitted when the host has no pin (spec §1.3). */
  pin?: { commit: string; reason: string | null; expiresAt: string | null };
}

export interface SelectorDocument {
  tags: string[];
  tagsAny: string[];
  hosts: string[];
  channel: string | null;
  all: boolean;
  and: SelectorDocument[];
  not: SelectorDocument | null;
}

export interface ProbeDocument {
  command: string | string[];
  interval: string;
  timeout: string;
  mode: 'enforce' | 'observe' | 'disabled';
}

export interface ResolvedPolicyDocument {
  strategy: string;
  waves: { selector: SelectorDocument; soakMinutes: number }[];
  healthGate: Record<string, unknown>;
  onHealthFailure: 'halt' | 'rollback-and-halt';
  maxInFlight: number | null;
  maxInFlightPct: number | null;
  sustainedFailureSecs: number | null;
  probes: (ProbeDocument & { name: string })[];
}

export interface MkFleetOptions {
  /** RFC 3339 signing time stamped into `meta.signedAt`; pins expired by then are dropped. */
  readonly signedAt: string;
  /** Git commit CI signs at; becomes every rollout id's ref. */
  readonly ciCommit: string | null;
  readonly signatureAlgorithm?: string;
}

export type MkFleetResult =
  | { ok: true; fleet: FleetResolvedDocument; warnings: FleetIssue[] }
  | { ok: false; errors: FleetIssue[]; warnings: FleetIssue[] };

/** Default platform when a host declares none: nixfleet agents run on NixOS, mostly x86_64. */
export const DEFAULT_PLATFORM = 'x86_64-linux';

/** Parses raw JSON against the fleet description schema, then checks invariants and resolves. */
export function mkFleetFromJson(json: unknown, options: MkFleetOptions): MkFleetResult {
  const parsed = fleetInputSchema.safeParse(json, { reportInput: true });
  if (!parsed.success) return { ok: false, errors: issuesFromZod(parsed.error), warnings: [] };
  return mkFleet(parsed.data, options);
}

class Collector {
  readonly errors: FleetIssue[] = [];
  readonly warnings: FleetIssue[] = [];
  error(path: readonly PathSegment[], message: string): void {
    this.errors.push({ path: formatFieldPath(path), message });
  }
  warn(path: readonly PathSegment[], message: string): void {
    this.warnings.push({ path: formatFieldPath(path), message });
  }
}

function flat(sel: InputSelector): Selector {
  return {
    tags: sel.tags ?? [],
    tagsAny: sel.tagsAny ?? [],
    hosts: sel.hosts ?? [],
    channel: sel.channel ?? null,
    all: sel.all ?? false,
  };
}

/** Spec §1.4 #13: `not` wins over `and`, which wins over the flat OR of the other fields. */
export function matchesInputSelector(sel: InputSelector, host: SelectorSubject): boolean {
  if (sel.not !== undefined && sel.not !== null) return !matchesInputSelector(sel.not, host);
  if (sel.and !== undefined && sel.and !== null && sel.and.length > 0) {
    return sel.and.every((s) => matchesInputSelector(s, host));
  }
  return matchesSelector(flat(sel), host);
}

function usesCombinators(sel: InputSelector): boolean {
  return (
    (sel.not !== undefined && sel.not !== null) ||
    (sel.and !== undefined && sel.and !== null && sel.and.length > 0)
  );
}

function selectorDocument(sel: InputSelector): SelectorDocument {
  return {
    ...flat(sel),
    and: (sel.and ?? []).map(selectorDocument),
    not: sel.not === undefined || sel.not === null ? null : selectorDocument(sel.not),
  };
}

function durationText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function probeDocument(p: ProbeInput): ProbeDocument {
  return {
    command: p.command,
    interval: durationText(p.interval),
    timeout: durationText(p.timeout),
    mode: p.mode,
  };
}

/** Finds one cycle per strongly connected knot; returns the index of the edge closing each. */
function findCycles(
  nodes: Iterable<string>,
  edges: readonly { from: string; to: string; index: number }[],
): { closing: number; cycle: string[]; via: number[] }[] {
  const out: { from: string; to: string; index: number }[][] = [];
  const adjacency = new Map<string, { from: string; to: string; index: number }[]>();
  for (const e of edges) adjacency.set(e.from, [...(adjacency.get(e.from) ?? []), e]);
  const state = new Map<string, 'open' | 'done'>();
  const stack: { from: string; to: string; index: number }[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    for (const e of adjacency.get(node) ?? []) {
      const s = state.get(e.to);
      if (s === 'open') {
        const start = stack.findIndex((x) => x.from === e.to);
        out.push([...stack.slice(start < 0 ? stack.length : start), e]);
      } else if (s === undefined) {
        stack.push(e);
        visit(e.to);
        stack.pop();
      }
    }
    state.set(node, 'done');
  };
  for (const n of [...nodes].sort()) if (!state.has(n)) visit(n);
  return out.map((cycleEdges) => ({
    closing: cycleEdges[cycleEdges.length - 1]?.index ?? 0,
    cycle: [...cycleEdges.map((e) => e.from), cycleEdges[0]?.from ?? ''],
    via: cycleEdges.map((e) => e.index),
  }));
}

function checkSelectorRefs(
  c: Collector,
  sel: InputSelector,
  path: readonly PathSegment[],
  hostNames: ReadonlySet<string>,
  channelNames: ReadonlySet<string>,
): void {
  (sel.hosts ?? []).forEach((h, i) => {
    if (!hostNames.has(h)) c.error([...path, 'hosts', i], `unknown host ${JSON.stringify(h)}`);
  });
  if (sel.channel !== undefined && sel.channel !== null && !channelNames.has(sel.channel)) {
    c.error([...path, 'channel'], `unknown channel ${JSON.stringify(sel.channel)}`);
  }
  (sel.and ?? []).forEach((s, i) => {
    checkSelectorRefs(c, s, [...path, 'and', i], hostNames, channelNames);
  });
  if (sel.not !== undefined && sel.not !== null)
    checkSelectorRefs(c, sel.not, [...path, 'not'], hostNames, channelNames);
}

function isEmptySelector(sel: InputSelector): boolean {
  const f = flat(sel);
  return (
    !usesCombinators(sel) &&
    !f.all &&
    f.channel === null &&
    f.hosts.length === 0 &&
    f.tags.length === 0 &&
    f.tagsAny.length === 0
  );
}

function pinDocument(pin: PinInput): { commit: string; reason: string | null; expiresAt: string | null } {
  return { commit: pin.commit, reason: pin.reason ?? null, expiresAt: pin.expiresAt ?? null };
}

/** Validates the invariants of spec §1.4 and resolves the fleet document; collects every problem. */
export function mkFleet(input: FleetInput, options: MkFleetOptions): MkFleetResult {
  const c = new Collector();
  const channelNames = new Set(Object.keys(input.channels));
  const policyNames = new Set(Object.keys(input.rolloutPolicies));

  // Host names are the fleet's keys: a second definition would silently replace the first.
  const hostIndex = new Map<string, number>();
  input.hosts.forEach((h, i) => {
    const first = hostIndex.get(h.name);
    if (first === undefined) hostIndex.set(h.name, i);
    else
      c.error(
        ['hosts', i, 'name'],
        `duplicate host name ${JSON.stringify(h.name)} (first declared at hosts[${first}])`,
      );
    const closure = h.closure ?? null;
    const alias = h.closureHash ?? null;
    if (closure !== null && alias !== null && closure !== alias) {
      c.error(['hosts', i, 'closureHash'], 'differs from `closure`; give only one of them');
    }
    if (h.platform !== undefined && h.system !== undefined && h.platform !== h.system) {
      c.error(['hosts', i, 'system'], 'differs from `platform`; give only one of them');
    }
  });
  const hostNames = new Set(hostIndex.keys());

  // §1.4 #2: every channel's policy exists.
  for (const [name, ch] of Object.entries(input.channels)) {
    if (!policyNames.has(ch.rolloutPolicy)) {
      c.error(
        ['channels', name, 'rolloutPolicy'],
        `unknown rollout policy ${JSON.stringify(ch.rolloutPolicy)}`,
      );
    }
    // §1.4 #6: a window shorter than two signing intervals goes stale between two CI runs.
    if (ch.freshnessWindow < 2 * ch.signingIntervalMinutes) {
      c.error(
        ['channels', name, 'freshnessWindow'],
        `${ch.freshnessWindow} min is below 2 × signingIntervalMinutes (${2 * ch.signingIntervalMinutes} min)`,
      );
    }
    if (ch.selector !== undefined) {
      if (ch.selector.channel !== undefined && ch.selector.channel !== null) {
        c.error(['channels', name, 'selector', 'channel'], 'a channel cannot select its hosts by channel');
      }
      checkSelectorRefs(c, ch.selector, ['channels', name, 'selector'], hostNames, channelNames);
    }
  }

  // §1.4 #1: each host belongs to exactly one declared channel.
  const hostChannel = new Map<string, string>();
  input.hosts.forEach((h, i) => {
    if (h.channel !== undefined) {
      if (channelNames.has(h.channel)) hostChannel.set(h.name, h.channel);
      else c.error(['hosts', i, 'channel'], `unknown channel ${JSON.stringify(h.channel)}`);
      return;
    }
    const subject = { name: h.name, channel: '', tags: h.tags };
    const matching = Object.entries(input.channels)
      .filter(([, ch]) => ch.selector !== undefined && matchesInputSelector(ch.selector, subject))
      .map(([name]) => name)
      .sort();
    const only = matching[0];
    if (matching.length === 1 && only !== undefined) hostChannel.set(h.name, only);
    else if (matching.length === 0) {
      c.error(
        ['hosts', i, 'channel'],
        `host ${h.name} belongs to no channel: set "channel" or match a channel's selector`,
      );
    } else {
      c.error(
        ['hosts', i, 'channel'],
        `host ${h.name} matches the selectors of channels ${matching.join(', ')}; set "channel"`,
      );
    }
  });
  const subjects: SelectorSubject[] = input.hosts
    .filter((h, i) => hostIndex.get(h.name) === i)
    .map((h) => ({ name: h.name, channel: hostChannel.get(h.name) ?? '', tags: h.tags }));

  for (const name of [...channelNames].sort()) {
    if (!subjects.some((s) => s.channel === name))
      c.error(['channels', name], 'no host belongs to this channel');
  }

  // Policies: waves, probes (§1.4 #7, #11 in the contract's probe form).
  for (const [name, p] of Object.entries(input.rolloutPolicies)) {
    if (p.waves.length === 0 && p.strategy !== 'all-at-once') {
      c.error(['rolloutPolicies', name, 'waves'], `a "${p.strategy}" policy needs at least one wave`);
    }
    p.waves.forEach((w, i) => {
      const at = ['rolloutPolicies', name, 'waves', i, 'selector'];
      checkSelectorRefs(c, w.selector, at, hostNames, channelNames);
      if (!subjects.some((s) => matchesInputSelector(w.selector, s))) c.warn(at, 'selects no host');
    });
    const probeNames = new Map<string, number>();
    p.probes.forEach((probe, i) => {
      const at = ['rolloutPolicies', name, 'probes', i];
      const first = probeNames.get(probe.name);
      if (first !== undefined) c.error([...at, 'name'], `duplicate probe name (first at probes[${first}])`);
      else probeNames.set(probe.name, i);
      const argv = typeof probe.command === 'string' ? [probe.command] : probe.command;
      if (argv.length === 0 || (argv[0] ?? '').trim() === '') c.error([...at, 'command'], 'is empty');
      if (probe.interval === 0) c.error([...at, 'interval'], 'must be greater than zero');
      if (probe.timeout === 0) c.error([...at, 'timeout'], 'must be greater than zero');
    });
    if (p.sustainedFailure === 0)
      c.error(['rolloutPolicies', name, 'sustainedFailure'], 'must be greater than zero');
  }

  // Hosts of a staged channel that no wave selects still roll out, in wave 0 (spec §1.7).
  for (const s of subjects) {
    const policy = input.rolloutPolicies[input.channels[s.channel]?.rolloutPolicy ?? ''];
    if (
      policy !== undefined &&
      policy.waves.length > 0 &&
      !policy.waves.some((w) => matchesInputSelector(w.selector, s))
    ) {
      c.warn(
        ['hosts', hostIndex.get(s.name) ?? 0],
        `host ${s.name} is in no wave of its channel's policy; it joins wave 0`,
      );
    }
  }

  // §1.4 #4: host edges name declared hosts, stay within one channel and form a DAG.
  input.edges.forEach((e, i) => {
    for (const field of ['gated', 'gates'] as const) {
      if (!hostNames.has(e[field])) c.error(['edges', i, field], `unknown host ${JSON.stringify(e[field])}`);
    }
    const a = hostChannel.get(e.gated);
    const b = hostChannel.get(e.gates);
    if (a !== undefined && b !== undefined && a !== b) {
      c.error(
        ['edges', i],
        `edge crosses channels (${e.gated} is in ${a}, ${e.gates} in ${b}); use a channel edge`,
      );
    }
  });
  const hostEdges = input.edges
    .map((e, index) => ({ from: e.gates, to: e.gated, index }))
    .filter((e) => hostNames.has(e.from) && hostNames.has(e.to));
  for (const cyc of findCycles(hostNames, hostEdges)) {
    c.error(
      ['edges', cyc.closing],
      `closes a cycle ${cyc.cycle.join(' → ')} (through ${cyc.via.map((i) => `edges[${i}]`).join(', ')})`,
    );
  }

  // §1.4 #5: channel edges: declared channels, one naming per edge, no self-edge, a DAG.
  const channelEdges: { gates: string; gated: string; reason: string | null }[] = [];
  input.channelEdges.forEach((e, i) => {
    const mixed =
      (e.gates !== undefined || e.gated !== undefined) && (e.before !== undefined || e.after !== undefined);
    if (mixed) {
      c.error(
        ['channelEdges', i],
        'mixes `gates`/`gated` with the deprecated `before`/`after`; use one naming',
      );
      return;
    }
    const gates = e.gates ?? e.before;
    const gated = e.gated ?? e.after;
    if (gates === undefined || gated === undefined) {
      c.error(['channelEdges', i], 'needs both `gates` and `gated`');
      return;
    }
    const gatesField = e.gates === undefined ? 'before' : 'gates';
    const gatedField = e.gated === undefined ? 'after' : 'gated';
    let ok = true;
    if (!channelNames.has(gates)) {
      c.error(['channelEdges', i, gatesField], `unknown channel ${JSON.stringify(gates)}`);
      ok = false;
    }
    if (!channelNames.has(gated)) {
      c.error(['channelEdges', i, gatedField], `unknown channel ${JSON.stringify(gated)}`);
      ok = false;
    }
    if (gates === gated) {
      c.error(['channelEdges', i], `channel ${gates} cannot gate itself`);
      ok = false;
    }
    if (ok) channelEdges.push({ gates, gated, reason: e.reason ?? null });
  });
  const channelEdgeList = input.channelEdges
    .map((e, index) => ({ from: e.gates ?? e.before ?? '', to: e.gated ?? e.after ?? '', index }))
    .filter((e) => channelNames.has(e.from) && channelNames.has(e.to) && e.from !== e.to);
  for (const cyc of findCycles(channelNames, channelEdgeList)) {
    c.error(
      ['channelEdges', cyc.closing],
      `closes a cycle ${cyc.cycle.join(' → ')} (through ${cyc.via.map((i) => `channelEdges[${i}]`).join(', ')})`,
    );
  }

  // Budgets are matched at runtime with the flat matcher, which ignores `and`/`not`: refuse them
  // here rather than enforce a different set than the operator wrote (spec §1.6 [GAP]).
  input.disruptionBudgets.forEach((b, i) => {
    const at = ['disruptionBudgets', i, 'selector'];
    if (usesCombinators(b.selector)) c.error(at, '`and`/`not` are not supported in budget selectors');
    if (isEmptySelector(b.selector)) c.error(at, 'is empty and would match no host');
    checkSelectorRefs(c, b.selector, at, hostNames, channelNames);
    const n = subjects.filter((s) => matchesSelector(flat(b.selector), s)).length;
    const pct = b.maxInFlightPct ?? null;
    const effective = b.maxInFlight ?? (pct !== null ? Math.max(1, Math.floor((n * pct) / 100)) : n);
    // §1.4 #8: a one-at-a-time budget over ten or more hosts is legal but probably unintended.
    if (n >= 10 && effective === 1) {
      c.warn(['disruptionBudgets', i], `allows 1 host in flight out of ${n}; rollouts will be serial`);
    }
  });

  // §1.4 #10: pins, most specific first: host > tag > channel; two tag pins on one host conflict.
  const tagPins = new Map(
    Object.entries(input.tags)
      .filter(([, t]) => t.pin !== undefined)
      .map(([tag, t]) => [tag, t.pin as PinInput]),
  );
  const signedAtMs = Date.parse(options.signedAt);
  const resolvePin = (i: number): PinInput | undefined => {
    const h = input.hosts[i];
    if (h === undefined) return undefined;
    if (h.pin !== undefined) return h.pin;
    const fromTags = h.tags.filter((t) => tagPins.has(t));
    if (fromTags.length > 1) {
      c.error(
        ['hosts', i, 'tags'],
        `tags ${fromTags.join(', ')} each declare a pin; give the host its own pin`,
      );
      return undefined;
    }
    const tag = fromTags[0];
    if (tag !== undefined) return tagPins.get(tag);
    return input.channels[hostChannel.get(h.name) ?? '']?.pin;
  };

  const hosts: Record<string, ResolvedHostDocument> = {};
  const effectiveHealthChecks: Record<string, Record<string, ProbeDocument>> = {};
  input.hosts.forEach((h, i) => {
    if (hostIndex.get(h.name) !== i) return;
    const channel = hostChannel.get(h.name) ?? '';
    const doc: ResolvedHostDocument = {
      platform: h.platform ?? h.system ?? DEFAULT_PLATFORM,
      tags: [...h.tags].sort(),
      channel,
      closureHash: h.closure ?? h.closureHash ?? null,
      pubkey: h.pubkey ?? null,
    };
    const pin = resolvePin(i);
    // The release tool drops pins that expired before the signing time (spec §1.2, §8.2).
    const expired = pin?.expiresAt != null && Date.parse(pin.expiresAt) < signedAtMs;
    if (pin !== undefined && !expired) doc.pin = pinDocument(pin);
    hosts[h.name] = doc;
    const policy = input.rolloutPolicies[input.channels[channel]?.rolloutPolicy ?? ''];
    effectiveHealthChecks[h.name] = Object.fromEntries(
      (policy?.probes ?? []).map((p) => [p.name, probeDocument(p)]),
    );
  });

  if (c.errors.length > 0) return { ok: false, errors: c.errors, warnings: c.warnings };

  const waves: FleetResolvedDocument['waves'] = {};
  for (const [name, ch] of Object.entries(input.channels)) {
    const policy = input.rolloutPolicies[ch.rolloutPolicy];
    // Wave selectors resolve against every host of the fleet, not only the channel's (spec §1.2).
    waves[name] = (policy?.waves ?? []).map((w) => ({
      hosts: subjects
        .filter((s) => matchesInputSelector(w.selector, s))
        .map((s) => s.name)
        .sort(),
      soakMinutes: w.soakMinutes,
    }));
  }

  const fleet: FleetResolvedDocument = {
    schemaVersion: 1,
    hosts,
    channels: Object.fromEntries(
      Object.entries(input.channels).map(([name, ch]) => [
        name,
        {
          rolloutPolicy: ch.rolloutPolicy,
          reconcileIntervalMinutes: ch.reconcileIntervalMinutes,
          freshnessWindow: ch.freshnessWindow,
          signingIntervalMinutes: ch.signingIntervalMinutes,
        },
      ]),
    ),
    rolloutPolicies: Object.fromEntries(
      Object.entries(input.rolloutPolicies).map(([name, p]) => [
        name,
        {
          strategy: p.strategy,
          waves: p.waves.map((w) => ({ selector: selectorDocument(w.selector), soakMinutes: w.soakMinutes })),
          healthGate: p.healthGate,
          onHealthFailure: p.onHealthFailure,
          maxInFlight: p.maxInFlight ?? null,
          maxInFlightPct: p.maxInFlightPct ?? null,
          sustainedFailureSecs: p.sustainedFailure == null ? null : Math.ceil(p.sustainedFailure / 1000),
          probes: p.probes.map((probe) => ({ name: probe.name, ...probeDocument(probe) })),
        },
      ]),
    ),
    waves,
    edges: input.edges.map((e) => ({ gated: e.gated, gates: e.gates, reason: e.reason ?? null })),
    channelEdges,
    disruptionBudgets: input.disruptionBudgets.map((b) => ({
      selector: selectorDocument(b.selector),
      maxInFlight: b.maxInFlight ?? null,
      maxInFlightPct: b.maxInFlightPct ?? null,
    })),
    effectiveHealthChecks,
    meta: {
      schemaVersion: 1,
      signedAt: options.signedAt,
      ciCommit: options.ciCommit,
      signatureAlgorithm: options.signatureAlgorithm ?? 'ed25519',
    },
  };
  return { ok: true, fleet, warnings: c.warnings };
}
