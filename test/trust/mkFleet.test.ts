// mkFleet invariants (spec §1.4), one named test each, and the §9.10 fixtures that apply to a JSON
// fleet description (named after them; the Nix-only ones are noted where they are not ported).
// Every violation must name the field path at fault so that `release build` can print it.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  fleetResolvedSchema,
  type MkFleetResult,
  matchesInputSelector,
  mkFleetFromJson,
} from '../../proto/index.ts';
import { formatSshPublicKey } from '../../proto/sshKey.ts';

const SIGNED_AT = '2026-04-24T10:00:00.000Z';
const store = (c: string, name: string) => `/nix/store/${c.repeat(32)}-nixos-system-${name}`;
const SSH_KEY = formatSshPublicKey(generateKeyPairSync('ed25519').publicKey, 'root@web-01');

type Json = Record<string, unknown>;

function baseInput(): Json & {
  hosts: Json[];
  channels: Record<string, Json>;
  rolloutPolicies: Record<string, Json>;
} {
  return {
    hosts: [
      {
        name: 'web-01',
        closure: store('a', 'web-01'),
        tags: ['web', 'eu'],
        pubkey: SSH_KEY,
        channel: 'stable',
      },
      { name: 'web-02', closure: store('b', 'web-02'), tags: ['web', 'us'], channel: 'stable' },
      { name: 'db-01', closure: store('c', 'db-01'), tags: ['db'], system: 'aarch64-linux' },
    ],
    channels: {
      stable: { rolloutPolicy: 'canary' },
      edge: {
        rolloutPolicy: 'fast',
        selector: { tags: ['db'] },
        freshnessWindow: 120,
        signingIntervalMinutes: 60,
      },
    },
    rolloutPolicies: {
      canary: {
        waves: [
          { selector: { hosts: ['web-01'] }, soakMinutes: 5 },
          { selector: { tags: ['web'] }, soakMinutes: 10 },
        ],
        sustainedFailure: '2m',
        probes: [{ name: 'http', command: ['curl', '-f', 'http://localhost'], interval: '10s' }],
      },
      fast: { strategy: 'all-at-once', onHealthFailure: 'halt' },
    },
    disruptionBudgets: [{ selector: { tags: ['web'] }, maxInFlight: 1 }],
    channelEdges: [{ gates: 'edge', gated: 'stable' }],
    edges: [{ gated: 'web-02', gates: 'web-01' }],
  };
}

function build(input: unknown): MkFleetResult {
  return mkFleetFromJson(input, { signedAt: SIGNED_AT, ciCommit: 'abc123' });
}

/** `path: message` of each error; fails the test when the fleet unexpectedly resolves. */
function errorsOf(input: unknown): string[] {
  const r = build(input);
  if (r.ok) throw new Error('expected invariant violations, the fleet resolved');
  return r.errors.map((e) => `${e.path}: ${e.message}`);
}

function resolved(input: unknown) {
  const r = build(input);
  if (!r.ok) throw new Error(`fleet did not resolve: ${JSON.stringify(r.errors)}`);
  return r;
}

function withChange(change: (f: ReturnType<typeof baseInput>) => void) {
  const f = baseInput();
  change(f);
  return f;
}

describe('a valid fleet resolves to fleet.resolved.json (spec §1.2)', () => {
  it('resolves hosts, channels, policies, waves, edges, budgets and meta with CI conventions', () => {
    const { fleet, warnings } = resolved(baseInput());
    expect(warnings).toEqual([]);
    expect(fleet.hosts['web-01']).toEqual({
      platform: 'x86_64-linux',
      tags: ['eu', 'web'],
      channel: 'stable',
      closureHash: `${'a'.repeat(32)}-nixos-system-web-01`,
      pubkey: SSH_KEY,
    });
    expect(fleet.hosts['db-01']).toMatchObject({ channel: 'edge', platform: 'aarch64-linux' });
    expect(fleet.waves).toEqual({
      stable: [
        { hosts: ['web-01'], soakMinutes: 5 },
        { hosts: ['web-01', 'web-02'], soakMinutes: 10 },
      ],
      edge: [],
    });
    expect(fleet.rolloutPolicies.canary).toMatchObject({
      strategy: 'staged',
      onHealthFailure: 'rollback-and-halt',
      sustainedFailureSecs: 120,
      probes: [
        {
          name: 'http',
          command: ['curl', '-f', 'http://localhost'],
          interval: '10s',
          timeout: '10s',
          mode: 'enforce',
        },
      ],
    });
    expect(fleet.effectiveHealthChecks['web-02']).toEqual({
      http: { command: ['curl', '-f', 'http://localhost'], interval: '10s', timeout: '10s', mode: 'enforce' },
    });
    expect(fleet.effectiveHealthChecks['db-01']).toEqual({});
    expect(fleet.channelEdges).toEqual([{ gates: 'edge', gated: 'stable', reason: null }]);
    expect(fleet.meta).toEqual({
      schemaVersion: 1,
      signedAt: SIGNED_AT,
      ciCommit: 'abc123',
      signatureAlgorithm: 'ed25519',
    });
  });

  it('the document canonicalizes and reads back through the consumer schema', () => {
    const { fleet } = resolved(baseInput());
    const back = fleetResolvedSchema.parse(JSON.parse(canonicalJson(fleet)));
    expect(back.hosts['web-02']?.closureHash).toBe(`${'b'.repeat(32)}-nixos-system-web-02`);
    expect(back.disruptionBudgets[0]?.selector.tags).toEqual(['web']);
  });

  it('wave selectors resolve against every host of the fleet, not only the channel (spec §1.2)', () => {
    const f = withChange((x) => {
      (x.rolloutPolicies.canary as Json).waves = [{ selector: { all: true } }];
    });
    expect(resolved(f).fleet.waves.stable).toEqual([
      { hosts: ['db-01', 'web-01', 'web-02'], soakMinutes: 0 },
    ]);
  });

  it('accepts the deprecated before/after spelling of a channel edge', () => {
    const f = withChange((x) => {
      x.channelEdges = [{ before: 'edge', after: 'stable', reason: 'db first' }];
    });
    expect(resolved(f).fleet.channelEdges).toEqual([{ gates: 'edge', gated: 'stable', reason: 'db first' }]);
  });

  it('static-compliance-fail-permissive: a v0.1 channel compliance block is accepted and ignored', () => {
    const f = withChange((x) => {
      (x.channels.stable as Json).compliance = { frameworks: ['anssi-bp028'], mode: 'permissive' };
    });
    expect(resolved(f).fleet.channels.stable).not.toHaveProperty('compliance');
  });
});

describe('positive mkFleet fixtures (spec §9.10)', () => {
  it('empty-selector-warns: a wave selector matching no host is a warning naming the wave', () => {
    const f = withChange((x) => {
      (x.rolloutPolicies.canary as Json).waves = [
        { selector: { tags: ['nope'] } },
        { selector: { all: true } },
      ];
    });
    const r = resolved(f);
    expect(r.warnings.map((w) => w.path)).toEqual(['rolloutPolicies.canary.waves[0].selector']);
  });

  it('tight-budget-warns: a budget of 1 over ten or more hosts is a warning', () => {
    const f = withChange((x) => {
      for (let i = 0; i < 9; i++)
        x.hosts.push({ name: `web-1${i}`, closure: null, tags: ['web'], channel: 'stable' });
    });
    const r = resolved(f);
    expect(r.warnings).toContainEqual({
      path: 'disruptionBudgets[0]',
      message: expect.stringMatching(/1 host in flight out of 11/),
    });
  });

  it('selector-and: `and` requires every listed selector', () => {
    const f = withChange((x) => {
      (x.rolloutPolicies.canary as Json).waves = [
        { selector: { and: [{ tags: ['web'] }, { tags: ['eu'] }] } },
      ];
    });
    expect(resolved(f).fleet.waves.stable?.[0]?.hosts).toEqual(['web-01']);
  });

  it('selector-not: `not` wins over `and` and the flat fields', () => {
    const host = { name: 'web-02', channel: 'stable', tags: ['web', 'us'] };
    expect(matchesInputSelector({ not: { tags: ['eu'] }, and: [{ tags: ['db'] }], all: false }, host)).toBe(
      true,
    );
    expect(matchesInputSelector({ and: [{ tags: ['web'] }, { tags: ['eu'] }], all: true }, host)).toBe(false);
    const f = withChange((x) => {
      (x.rolloutPolicies.canary as Json).waves = [{ selector: { not: { tags: ['eu'] } } }];
    });
    expect(resolved(f).fleet.waves.stable?.[0]?.hosts).toEqual(['db-01', 'web-02']);
  });

  it('pin-host-overrides-tag-and-channel: host pin > tag pin > channel pin', () => {
    const f = withChange((x) => {
      x.tags = { eu: { pin: { commit: 'tagpin', reason: 'tag' } }, us: { pin: { commit: 'uspin' } } };
      (x.channels.stable as Json).pin = { commit: 'chanpin', reason: 'channel' };
      x.hosts.push({ name: 'web-03', closure: null, tags: ['web'], channel: 'stable' });
      (x.hosts[0] as Json).pin = { commit: 'hostpin', reason: 'host' };
    });
    const hosts = resolved(f).fleet.hosts;
    expect(hosts['web-01']?.pin).toEqual({ commit: 'hostpin', reason: 'host', expiresAt: null });
    expect(hosts['web-02']?.pin?.commit).toBe('uspin');
    expect(hosts['web-03']?.pin?.commit).toBe('chanpin');
    expect(hosts['db-01']).not.toHaveProperty('pin');
  });

  it('a pin that expired before the signing time is dropped', () => {
    const f = withChange((x) => {
      (x.hosts[0] as Json).pin = { commit: 'old', expiresAt: '2026-04-24T09:59:59Z' };
      (x.hosts[1] as Json).pin = { commit: 'live', expiresAt: '2026-04-25T00:00:00Z' };
    });
    const hosts = resolved(f).fleet.hosts;
    expect(hosts['web-01']).not.toHaveProperty('pin');
    expect(hosts['web-02']?.pin?.commit).toBe('live');
  });
});

describe('mkFleet invariants (spec §1.4), each a named error', () => {
  it('duplicate host names (merge-host-conflict): the second definition is named', () => {
    const f = withChange((x) => {
      x.hosts.push({ name: 'web-01', closure: null, channel: 'stable' });
    });
    expect(errorsOf(f)).toEqual(['hosts[3].name: duplicate host name "web-01" (first declared at hosts[0])']);
  });

  it("#1 a host's channel must exist", () => {
    const f = withChange((x) => {
      (x.hosts[1] as Json).channel = 'beta';
    });
    expect(errorsOf(f)).toEqual(['hosts[1].channel: unknown channel "beta"']);
  });

  it('#1 a host without a channel must match exactly one channel selector', () => {
    const none = withChange((x) => {
      (x.hosts[2] as Json).tags = ['cache'];
    });
    expect(errorsOf(none)).toContainEqual(
      expect.stringMatching(/^hosts\[2\]\.channel: host db-01 belongs to no channel/),
    );
    const two = withChange((x) => {
      (x.channels.stable as Json).selector = { tagsAny: ['db'] };
    });
    expect(errorsOf(two)).toContain(
      'hosts[2].channel: host db-01 matches the selectors of channels edge, stable; set "channel"',
    );
  });

  it("#2 a channel's rolloutPolicy must exist", () => {
    const f = withChange((x) => {
      (x.channels.edge as Json).rolloutPolicy = 'slow';
    });
    expect(errorsOf(f)).toEqual(['channels.edge.rolloutPolicy: unknown rollout policy "slow"']);
  });

  it('#3 host-bad-configuration: a closure that is not a Nix store path', () => {
    const f = withChange((x) => {
      (x.hosts[0] as Json).closure = '/etc/nixos/configuration.nix';
    });
    expect(errorsOf(f)).toEqual([expect.stringMatching(/^hosts\[0\]\.closure: .*not a Nix store path/)]);
  });

  it('a pubkey that is not an OpenSSH ed25519 key', () => {
    const f = withChange((x) => {
      (x.hosts[1] as Json).pubkey = 'ssh-rsa AAAAB3NzaC1yc2E= root@web-02';
    });
    expect(errorsOf(f)).toEqual([
      expect.stringMatching(/^hosts\[1\]\.pubkey: expected an OpenSSH ed25519 public key/),
    ]);
  });

  it('#4 host edges must name declared hosts', () => {
    const f = withChange((x) => {
      x.edges = [{ gated: 'web-02', gates: 'web-99' }];
    });
    expect(errorsOf(f)).toEqual(['edges[0].gates: unknown host "web-99"']);
  });

  it('#4 edge-cross-channel: a host edge may not cross channels', () => {
    const f = withChange((x) => {
      x.edges = [{ gated: 'web-01', gates: 'db-01' }];
    });
    expect(errorsOf(f)).toEqual([
      expect.stringMatching(/^edges\[0\]: edge crosses channels \(web-01 is in stable, db-01 in edge\)/),
    ]);
  });

  it('#4 edge-cycle: host edges must form a DAG (the closing edge and the cycle are named)', () => {
    const f = withChange((x) => {
      x.edges = [
        { gated: 'web-02', gates: 'web-01' },
        { gated: 'web-01', gates: 'web-02' },
      ];
    });
    expect(errorsOf(f)).toEqual([
      'edges[1]: closes a cycle web-01 → web-02 → web-01 (through edges[0], edges[1])',
    ]);
  });

  it('#4 a host gating itself is a cycle', () => {
    const f = withChange((x) => {
      x.edges = [{ gated: 'web-01', gates: 'web-01' }];
    });
    expect(errorsOf(f)).toEqual(['edges[0]: closes a cycle web-01 → web-01 (through edges[0])']);
  });

  it('#5 channel edges must name declared channels', () => {
    const f = withChange((x) => {
      x.channelEdges = [{ gates: 'edge', gated: 'beta' }];
    });
    expect(errorsOf(f)).toEqual(['channelEdges[0].gated: unknown channel "beta"']);
  });

  it('#5 a channel edge may not be a self-edge', () => {
    const f = withChange((x) => {
      x.channelEdges = [{ before: 'edge', after: 'edge' }];
    });
    expect(errorsOf(f)).toEqual(['channelEdges[0]: channel edge cannot gate itself']);
  });

  it('#5 channel edges must form a DAG', () => {
    const f = withChange((x) => {
      x.channelEdges = [
        { gates: 'edge', gated: 'stable' },
        { gates: 'stable', gated: 'edge' },
      ];
    });
    expect(errorsOf(f)).toEqual([
      'channelEdges[1]: closes a cycle edge → stable → edge (through channelEdges[0], channelEdges[1])',
    ]);
  });

  it('#5 one channel edge may not mix gates/gated with before/after', () => {
    const f = withChange((x) => {
      x.channelEdges = [{ gates: 'edge', after: 'stable' }];
    });
    expect(errorsOf(f)).toEqual([expect.stringMatching(/^channelEdges\[0\]: mixes `gates`\/`gated` with/)]);
  });

  it('#6 freshness-below-2x: freshnessWindow must be at least twice the signing interval', () => {
    const f = withChange((x) => {
      (x.channels.edge as Json).freshnessWindow = 119;
    });
    expect(errorsOf(f)).toEqual([
      'channels.edge.freshnessWindow: 119 min is below 2 × signingIntervalMinutes (120 min)',
    ]);
  });

  it('#10 pin-multi-tag-conflict: two tag pins on a host without its own pin', () => {
    const f = withChange((x) => {
      x.tags = { web: { pin: { commit: 'a' } }, eu: { pin: { commit: 'a' } } };
    });
    expect(errorsOf(f)).toEqual([
      'hosts[0].tags: tags web, eu each declare a pin; give the host its own pin',
    ]);
  });

  it('#11 probe declarations: duplicate name, empty command, zero interval, bad duration', () => {
    const f = withChange((x) => {
      (x.rolloutPolicies.canary as Json).probes = [
        { name: 'http', command: 'true' },
        { name: 'http', command: [] },
        { name: 'tcp', command: 'nc -z localhost 22', interval: 0 },
      ];
    });
    expect(errorsOf(f)).toEqual([
      'rolloutPolicies.canary.probes[1].name: duplicate probe name (first at probes[0])',
      'rolloutPolicies.canary.probes[1].command: is empty',
      'rolloutPolicies.canary.probes[2].interval: must be greater than zero',
    ]);
    const badDuration = withChange((x) => {
      (x.rolloutPolicies.canary as Json).probes = [{ name: 'http', command: 'true', timeout: '5 minutes' }];
    });
    expect(errorsOf(badDuration)).toEqual([
      expect.stringMatching(/^rolloutPolicies\.canary\.probes\[0\]\.timeout: .*not a duration/),
    ]);
  });

  it('unknown hosts in wave selectors, also nested in and/not, are named', () => {
    const f = withChange((x) => {
      (x.rolloutPolicies.canary as Json).waves = [
        { selector: { hosts: ['web-01', 'web-9'] } },
        { selector: { and: [{ tags: ['web'] }], not: { hosts: ['ghost'] } } },
      ];
    });
    expect(errorsOf(f)).toEqual([
      'rolloutPolicies.canary.waves[0].selector.hosts[1]: unknown host "web-9"',
      'rolloutPolicies.canary.waves[1].selector.not.hosts[0]: unknown host "ghost"',
    ]);
  });

  it('an unknown channel in a selector is named', () => {
    const f = withChange((x) => {
      x.disruptionBudgets = [{ selector: { channel: 'beta' }, maxInFlight: 2 }];
    });
    expect(errorsOf(f)).toEqual(['disruptionBudgets[0].selector.channel: unknown channel "beta"']);
  });

  it('a channel cannot select its hosts by channel', () => {
    const f = withChange((x) => {
      (x.channels.edge as Json).selector = { channel: 'stable' };
    });
    expect(errorsOf(f)).toContain(
      'channels.edge.selector.channel: a channel cannot select its hosts by channel',
    );
  });

  it('an empty channel (no host belongs to it) is an error', () => {
    const f = withChange((x) => {
      x.channels.beta = { rolloutPolicy: 'fast' };
    });
    expect(errorsOf(f)).toEqual(['channels.beta: no host belongs to this channel']);
  });

  it('a staged policy needs at least one wave (only all-at-once is normalized, spec §1.5)', () => {
    const f = withChange((x) => {
      (x.rolloutPolicies.canary as Json).waves = [];
    });
    expect(errorsOf(f)).toEqual(['rolloutPolicies.canary.waves: a "staged" policy needs at least one wave']);
  });

  it('budget selectors may not use and/not (runtime matchers ignore them, spec §1.6) nor be empty', () => {
    const f = withChange((x) => {
      x.disruptionBudgets = [
        { selector: { not: { tags: ['db'] } }, maxInFlight: 2 },
        { selector: {}, maxInFlightPct: 50 },
      ];
    });
    expect(errorsOf(f)).toEqual([
      'disruptionBudgets[0].selector: `and`/`not` are not supported in budget selectors',
      'disruptionBudgets[1].selector: is empty and would match no host',
    ]);
  });

  it('channel names must be usable in rollout ids ([a-z0-9_-])', () => {
    const f = withChange((x) => {
      x.channels.Stable = x.channels.stable as Json;
    });
    expect(errorsOf(f)).toContainEqual(expect.stringMatching(/^channels\.Stable: invalid name: .*lowercase/));
  });
});

describe('schema errors name the field', () => {
  it('a misspelt field is an unknown field, not a silently ignored setting', () => {
    const f = withChange((x) => {
      ((x.rolloutPolicies.canary as Json).waves as Json[])[0] = {
        selector: { hosts: ['web-01'] },
        soakMinute: 5,
      };
    });
    expect(errorsOf(f)).toEqual(['rolloutPolicies.canary.waves[0].soakMinute: unknown field']);
  });

  it('a missing required field says it is required', () => {
    const f = withChange((x) => {
      delete (x.channels.edge as Json).rolloutPolicy;
    });
    expect(errorsOf(f)).toEqual(['channels.edge.rolloutPolicy: is required (string)']);
  });

  it('a wrong type names the path', () => {
    expect(errorsOf({ ...baseInput(), hosts: {} })).toEqual([expect.stringMatching(/^hosts: .*array/)]);
  });

  it('all violations are reported together', () => {
    const f = withChange((x) => {
      (x.hosts[1] as Json).channel = 'beta';
      (x.channels.edge as Json).rolloutPolicy = 'slow';
      x.edges = [{ gated: 'web-02', gates: 'web-99' }];
    });
    expect(errorsOf(f).map((e) => e.split(':')[0])).toEqual([
      'channels.edge.rolloutPolicy',
      'hosts[1].channel',
      'edges[0].gates',
    ]);
  });
});
