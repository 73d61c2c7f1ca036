// Chart events: every wire kind has a Local variant (fed to the agent's actor by its workers) and a
// Remote mirror (fed to the CP's actor from the agent's report, or synthesised during recovery).
// Both carry exactly the wire payload; LocalActivate adds the dispatch fields the agent uses to
// create its record (spec §2.3).
import type { AgentEvent, AgentEventKind, AgentEventOf } from '../../proto/agentEvent.ts';
import type { Timestamp } from '../../proto/common.ts';

export const EVENT_PAIRS = {
  DispatchAck: { local: 'LocalActivate', remote: 'RemoteDispatchAck' },
  ActivationStarted: { local: 'LocalActivationStarted', remote: 'RemoteActivationStarted' },
  ActivationCompleted: { local: 'LocalActivationCompleted', remote: 'RemoteActivationCompleted' },
  ActivationDeferred: { local: 'LocalActivationDeferred', remote: 'RemoteActivationDeferred' },
  ActivationFailed: { local: 'LocalActivationFailed', remote: 'RemoteActivationFailed' },
  ProbeTopologyDeclared: { local: 'LocalProbeTopologyDeclared', remote: 'RemoteProbeTopologyDeclared' },
  ProbeObservedFirst: { local: 'LocalProbeObservedFirst', remote: 'RemoteProbeObservedFirst' },
  ProbeResult: { local: 'LocalProbeResult', remote: 'RemoteProbeResult' },
  ProbeFailureFirst: { local: 'LocalProbeFailureFirst', remote: 'RemoteProbeFailureFirst' },
  Failed: { local: 'LocalSustainedFailureCrossed', remote: 'RemoteFailed' },
  Converged: { local: 'LocalConvergedReached', remote: 'RemoteConverged' },
  RollbackComplete: { local: 'LocalRollbackCompleted', remote: 'RemoteRollbackComplete' },
  RollbackFailed: { local: 'LocalRollbackFailed', remote: 'RemoteRollbackFailed' },
} as const satisfies Record<AgentEventKind, { local: `Local${string}`; remote: `Remote${string}` }>;

type Pairs = typeof EVENT_PAIRS;
export type LocalEventType = Pairs[AgentEventKind]['local'];
export type RemoteEventType = Pairs[AgentEventKind]['remote'];
export type HostRolloutEventType = LocalEventType | RemoteEventType;

type Payload<K extends AgentEventKind> = Omit<AgentEventOf<K>, 'kind'>;

/** Extra fields of LocalActivate: not applied by the chart, used to bootstrap a missing record. */
// A type alias, not an interface: events must stay assignable to plain records (timers store them).
export type LocalActivateDispatch = {
  targetClosure: string;
  soakDueAt: Timestamp | null;
};

export type LocalEventOf<K extends AgentEventKind> = { type: Pairs[K]['local'] } & Payload<K> &
  (K extends 'DispatchAck' ? LocalActivateDispatch : unknown);
export type RemoteEventOf<K extends AgentEventKind> = { type: Pairs[K]['remote'] } & Payload<K>;

export type LocalEvent = { [K in AgentEventKind]: LocalEventOf<K> }[AgentEventKind];
export type RemoteEvent = { [K in AgentEventKind]: RemoteEventOf<K> }[AgentEventKind];
export type HostRolloutEvent = LocalEvent | RemoteEvent;

const KIND_BY_TYPE = new Map<string, AgentEventKind>();
for (const [kind, pair] of Object.entries(EVENT_PAIRS) as [AgentEventKind, Pairs[AgentEventKind]][]) {
  KIND_BY_TYPE.set(pair.local, kind);
  KIND_BY_TYPE.set(pair.remote, kind);
}

export const LOCAL_EVENT_TYPES = Object.values(EVENT_PAIRS).map((p) => p.local) as LocalEventType[];
export const REMOTE_EVENT_TYPES = Object.values(EVENT_PAIRS).map((p) => p.remote) as RemoteEventType[];
export const HOST_EVENT_TYPES: HostRolloutEventType[] = [...LOCAL_EVENT_TYPES, ...REMOTE_EVENT_TYPES];

export function kindOf(type: HostRolloutEventType): AgentEventKind {
  const kind = KIND_BY_TYPE.get(type);
  if (kind === undefined) throw new Error(`not a host-rollout event type: ${type}`);
  return kind;
}

export function isLocalEvent(event: HostRolloutEvent): event is LocalEvent {
  return event.type.startsWith('Local');
}

/** The wire payload of a chart event: what the agent reports, and what the CP logs. */
export function toAgentEvent(event: HostRolloutEvent): AgentEvent {
  const { type, ...fields } = event;
  const kind = kindOf(type);
  if (kind === 'DispatchAck') {
    const {
      targetClosure: _t,
      soakDueAt: _s,
      ...ack
    } = fields as Payload<'DispatchAck'> & Partial<LocalActivateDispatch>;
    return { kind, ...ack };
  }
  return { kind, ...fields } as AgentEvent;
}

/** The CP's mirror of an agent's wire event (infallible, spec §5.4 step 4). */
export function toRemoteEvent(event: AgentEvent): RemoteEvent {
  const { kind, ...fields } = event;
  return { type: EVENT_PAIRS[kind].remote, ...fields } as RemoteEvent;
}

/** The timestamp an event stamps on its transition (RecordTransition `at`). */
export function eventTime(event: HostRolloutEvent): Timestamp {
  const e = toAgentEvent(event);
  switch (e.kind) {
    case 'DispatchAck':
      return e.receivedAt;
    case 'ActivationStarted':
      return e.startedAt;
    case 'ActivationCompleted':
      return e.completedAt;
    case 'ActivationDeferred':
      return e.deferredAt;
    case 'ActivationFailed':
      return e.failedAt;
    case 'ProbeTopologyDeclared':
      return e.declaredAt;
    case 'ProbeObservedFirst':
      return e.observedAt;
    case 'ProbeResult':
      return e.observedAt;
    case 'ProbeFailureFirst':
      return e.firstFailedAt;
    case 'Failed':
      return e.failedAt;
    case 'Converged':
      return e.convergedAt;
    case 'RollbackComplete':
      return e.completedAt;
    case 'RollbackFailed':
      return e.failedAt;
  }
}
