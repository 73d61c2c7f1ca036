// The event-log rows a step contributes to the CP's history (spec §2.5, §3.6, §7.11): agent events
// mirrored by the CP, each host state transition, each rollout transition.
import type { LogRow } from './snapshotStore.ts';

export function logRowsForEffects(
  effects: readonly ({ type: string } & Record<string, unknown>)[],
): LogRow[] {
  const rows: LogRow[] = [];
  for (const e of effects) {
    switch (e.type) {
      case 'RemoteAppendEventLog': {
        const payload = e.payload as { seq: number } & Record<string, unknown>;
        rows.push({
          kind: 'agent_event',
          hostId: e.host as string,
          rolloutId: e.rolloutId as string,
          actorSeq: payload.seq,
          payload,
        });
        break;
      }
      case 'RecordTransition':
        rows.push({
          kind: 'effect',
          hostId: e.host as string,
          rolloutId: e.rolloutId as string,
          actorSeq: null,
          payload: {
            effect: 'RecordTransition',
            host: e.host,
            rollout_id: e.rolloutId,
            from: e.from,
            to: e.to,
            at: e.at,
          },
        });
        break;
      case 'RecordRolloutTransition':
        rows.push({
          kind: 'rollout_event',
          hostId: null,
          rolloutId: e.rolloutId as string,
          actorSeq: null,
          payload: { ...e },
        });
        break;
    }
  }
  return rows;
}
