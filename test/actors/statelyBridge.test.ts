// The inspection stream speaks the @statelyai/inspect protocol.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StatelyInspectionEvent } from '@statelyai/inspect';
import { describe, expect, it } from 'vitest';
import {
  ActorRuntime,
  bridgeToStatelyInspector,
  FileSnapshotStore,
  hostRolloutKey,
  InspectionBus,
} from '../../actors/index.ts';
import { hostInput, remote, until } from './support.ts';

describe('@statelyai/inspect bridge', () => {
  it('emits actor, event and snapshot frames for every step, keyed by actor', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nixfleet-inspect-'));
    try {
      const bus = new InspectionBus();
      const frames: StatelyInspectionEvent[] = [];
      const stop = bridgeToStatelyInspector(bus, {
        send: (e: StatelyInspectionEvent) => void frames.push(e),
      });
      const rt = await ActorRuntime.start({ store: await FileSnapshotStore.open(dir), inspection: bus });
      await rt.spawn('hostRollout', hostInput('web-01', 'stable@insp'));
      const key = hostRolloutKey('stable@insp', 'web-01');
      await rt.send('hostRollout', key, remote.ack(1));
      await rt.send('hostRollout', key, remote.completed(2, 'web-01'));
      // @statelyai/inspect builds frames in an idle callback.
      await until(() => frames.length >= 5, 5000, 'inspector frames');
      expect(frames.map((f) => f.type)).toEqual([
        '@xstate.actor',
        '@xstate.event',
        '@xstate.snapshot',
        '@xstate.event',
        '@xstate.snapshot',
      ]);
      const actor = frames[0];
      expect(actor?.type === '@xstate.actor' && actor.sessionId).toBe(key);
      expect(actor?.type === '@xstate.actor' && actor.name).toBe('hostRollout');
      expect(actor?.type === '@xstate.actor' && JSON.parse(actor.definition ?? '{}').id).toBe('hostRollout');
      const last = frames[4];
      expect(last?.type === '@xstate.snapshot' && (last.snapshot as unknown as { value: string }).value).toBe(
        'Soaking',
      );
      expect(last?.type === '@xstate.snapshot' && last.event.type).toBe('RemoteActivationCompleted');
      stop();
      await rt.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
