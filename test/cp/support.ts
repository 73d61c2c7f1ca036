// Helpers for the control-plane tests: signed release directories made with the real release
// tooling, a CP core on a test database, actors to address, and wire events.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { hostRolloutKey, rolloutKey } from '../../actors/index.ts';
import {
  type ControlPlaneCore,
  type CpAuth,
  createControlPlaneCore,
  type PlanRunner,
} from '../../cp/index.ts';
import type { DatabaseHandle } from '../../db/index.ts';
import type { AgentEvent } from '../../proto/index.ts';
import {
  fleetResolvedSchema,
  projectRolloutManifests,
  rolloutIdOf,
  sha256Hex,
  signJson,
} from '../../proto/index.ts';
import { ed25519Key, fleetValue, type TestKey } from '../trust/support.ts';

export const silentLogger = pino({ level: 'silent' });

export const CI_COMMIT = 'abc123';
export const STABLE = rolloutIdOf('stable', CI_COMMIT);
/** Closures of the fleet in `fleetValue` (test/trust/support.ts). */
export const WEB01_TARGET = '0123456789abcdfghijklmnpqrsvwxyz-nixos-system-web-01-26.05';

export interface ReleaseWorld {
  readonly dir: string;
  readonly releaseDir: string;
  readonly trustFile: string;
  readonly key: TestKey;
  /** Writes a signed release for `ciCommit` signed now (or at `signedAt`); returns the fleet hash. */
  writeRelease(options?: {
    ciCommit?: string;
    signedAt?: string;
    key?: TestKey;
    /** Edits the fleet value before it is signed. */
    edit?: (fleet: Record<string, unknown>) => void;
  }): Promise<string>;
  cleanup(): Promise<void>;
}

/** A temp dir with a trust file for a fresh key and an empty release directory. */
export async function createReleaseWorld(): Promise<ReleaseWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'nixfleet-cp-'));
  const releaseDir = join(dir, 'release');
  await mkdir(releaseDir, { recursive: true });
  const key = ed25519Key();
  const trustFile = join(dir, 'trust.json');
  await writeFile(trustFile, JSON.stringify({ schemaVersion: 1, ciReleaseKey: { current: key.pub } }));
  return {
    dir,
    releaseDir,
    trustFile,
    key,
    async writeRelease(options = {}) {
      const signer = options.key ?? key;
      const value = fleetValue({
        signedAt: options.signedAt ?? new Date().toISOString(),
        ciCommit: options.ciCommit ?? CI_COMMIT,
      });
      options.edit?.(value);
      const fleet = signJson(value, signer.privateKey);
      const hash = sha256Hex(fleet.bytes);
      const projected = projectRolloutManifests(fleetResolvedSchema.parse(value), hash);
      if (!projected.ok) throw new Error(projected.detail);
      await mkdir(join(releaseDir, 'rollouts'), { recursive: true });
      // Manifests first, fleet last, as `release build` does.
      for (const m of projected.manifests) {
        const id = rolloutIdOf(m.channel, m.channelRef);
        const signed = signJson(m, signer.privateKey);
        await writeFile(join(releaseDir, 'rollouts', `${id}.json`), signed.bytes);
        await writeFile(join(releaseDir, 'rollouts', `${id}.json.sig`), signed.signature);
      }
      await writeFile(join(releaseDir, 'fleet.resolved.json'), fleet.bytes);
      await writeFile(join(releaseDir, 'fleet.resolved.json.sig'), fleet.signature);
      return hash;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface CoreOptions {
  auth?: CpAuth;
  longpollMaxWaitMs?: number;
  planner?: PlanRunner;
  listen?: boolean;
  /** Default 0: poll only when the test calls `releases.poll()`. */
  releasePollIntervalMs?: number;
}

export function startCore(
  handle: DatabaseHandle,
  world: ReleaseWorld,
  options: CoreOptions = {},
): Promise<ControlPlaneCore> {
  return createControlPlaneCore({
    handle,
    logger: silentLogger,
    releaseDir: world.releaseDir,
    trustFile: world.trustFile,
    releasePollIntervalMs: options.releasePollIntervalMs ?? 0,
    planIntervalMs: 0,
    longpollMaxWaitMs: options.longpollMaxWaitMs ?? 60_000,
    auth: options.auth ?? { mode: 'insecure' },
    migrated: true,
    planner: options.planner,
    listen: options.listen,
  });
}

export const T0 = '2026-05-16T01:00:00.000Z';
export const at = (s: number) => new Date(Date.parse(T0) + s * 1000).toISOString();

/** Opens a rollout actor (Active, one host joined) and a Pending host actor per host. */
export async function openRollout(
  core: ControlPlaneCore,
  hosts: readonly string[],
  rolloutId = STABLE,
  onHealthFailure: 'halt' | 'rollback-and-halt' = 'rollback-and-halt',
): Promise<void> {
  const [channel, targetRef] = rolloutId.split('@') as [string, string];
  await core.runtime.spawn('rollout', { rolloutId, channel, targetRef, openedAt: T0 });
  for (const hostname of hosts) {
    await core.runtime.spawn('hostRollout', {
      rolloutId,
      hostname,
      channel,
      targetClosure: `target-${hostname}`,
      dispatchedAt: T0,
      soakDueAt: at(60),
      onHealthFailure,
    });
    const r = await core.runtime.send('rollout', rolloutKey(rolloutId), {
      type: 'HostJoined',
      rolloutId,
      hostId: hostname,
      wave: 0,
      at: T0,
    });
    if (!r.ok && r.error.code !== 'IllegalForState') throw new Error(JSON.stringify(r.error));
  }
}

export const hostState = (core: ControlPlaneCore, hostname: string, rolloutId = STABLE) => {
  const s = core.runtime.snapshotOf('hostRollout', hostRolloutKey(rolloutId, hostname));
  return s?.value;
};

/** Wire events as an agent posts them (spec §2.4, §5.4). */
export const wire = {
  ack: (seq: number): AgentEvent => ({
    kind: 'DispatchAck',
    currentClosureAtDispatch: 'prior',
    receivedAt: at(seq),
    seq,
  }),
  completed: (seq: number, hostname: string): AgentEvent => ({
    kind: 'ActivationCompleted',
    observedCurrentClosure: `target-${hostname}`,
    exitCode: 0,
    completedAt: at(seq),
    seq,
  }),
  converged: (seq: number, closure: string, convergedAt = at(120)): AgentEvent => ({
    kind: 'Converged',
    convergedAt,
    currentClosure: closure,
    seq,
  }),
  activationFailed: (seq: number): AgentEvent => ({
    kind: 'ActivationFailed',
    exitCode: 1,
    stderrTail: 'switch failed',
    failedAt: at(seq),
    seq,
  }),
  rolledBack: (seq: number): AgentEvent => ({
    kind: 'RollbackComplete',
    revertedToClosure: 'prior',
    exitCode: 0,
    completedAt: at(seq),
    seq,
  }),
  probe: (seq: number, status: 'pass' | 'fail', subResults: unknown = null): AgentEvent =>
    ({
      kind: 'ProbeResult',
      probeName: 'nginx',
      mode: 'enforce',
      status,
      observedAt: at(seq),
      failureReason: status === 'fail' ? 'down' : null,
      subResults,
      seq,
    }) as AgentEvent,
};

export function envelope(hostname: string, event: AgentEvent, rolloutId = STABLE) {
  return { hostname, rolloutId, event };
}

export function postJson(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

/** Waits for `check` to hold, polling; fails after `ms`. Never a fixed sleep. */
export async function until(
  check: () => boolean | Promise<boolean>,
  ms = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
