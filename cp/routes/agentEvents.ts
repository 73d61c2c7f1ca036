// `POST /v1/agent/events` (spec §5.4, contract §4, §10 G2): the event is applied through the host's
// actor before the answer is sent, so the status says what happened to it — never a silent drop:
//   204 applied, or a duplicate (SeqRegression: the chart already holds that seq);
//   409 illegal_transition / invariant: the chart refuses it for good (the agent dead-letters it);
//   404 unknown_rollout: no host-rollout actor for (rolloutId, hostname);
//   400 malformed body, 403 the certificate names another host;
//   503 the store is unavailable or the CP is not running: nothing was applied, retry.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { type ActorRuntime, ActorStoreError, hostRolloutKey, type SendResult } from '../../actors/index.ts';
import { describeHostTransitionError, toRemoteEvent } from '../../machines/index.ts';
import { agentEventEnvelopeSchema } from '../../proto/index.ts';
import { jsonError } from '../identity/index.ts';
import { type AgentAuthMode, type CpEnv, jsonBody, refuseUnlessCaller } from './shared.ts';

/** Probe results carry output tails; a megabyte is far beyond any legitimate event. */
export const MAX_EVENT_BODY_BYTES = 1024 * 1024;

export interface AgentEventRoutesOptions {
  auth: AgentAuthMode;
  /** The running actor runtime; undefined while starting or once stopping (→ 503). */
  runtime: () => ActorRuntime | undefined;
  onOutcome?: (outcome: string) => void;
  onStoreError?: (error: unknown) => void;
}

export function createAgentEventRoutes(options: AgentEventRoutesOptions): Hono<CpEnv> {
  const app = new Hono<CpEnv>();
  const count = (outcome: string) => options.onOutcome?.(outcome);
  app.post(
    '/v1/agent/events',
    bodyLimit({
      maxSize: MAX_EVENT_BODY_BYTES,
      onError: (c) =>
        jsonError(c, 413, 'body_too_large', `send one event of at most ${MAX_EVENT_BODY_BYTES} bytes`),
    }),
    async (c) => {
      const body = await jsonBody(c, agentEventEnvelopeSchema);
      if (!body.ok) {
        count('malformed');
        return body.response;
      }
      const { hostname, rolloutId, event } = body.value;
      const refused = refuseUnlessCaller(c, options.auth, hostname);
      if (refused !== undefined) {
        count('forbidden');
        return refused;
      }
      const runtime = options.runtime();
      if (runtime === undefined) {
        count('unavailable');
        return jsonError(c, 503, 'not_running', 'the control plane is starting or shutting down; retry');
      }
      let result: SendResult<'hostRollout'>;
      try {
        result = await runtime.send('hostRollout', hostRolloutKey(rolloutId, hostname), toRemoteEvent(event));
      } catch (error) {
        if (!(error instanceof ActorStoreError)) throw error;
        options.onStoreError?.(error);
        count('store_unavailable');
        return jsonError(
          c,
          503,
          'store_unavailable',
          'the event was not applied (database unavailable); retry it',
        );
      }
      if (result.ok) {
        count('applied');
        return c.body(null, 204);
      }
      const e = result.error;
      switch (e.code) {
        case 'SeqRegression':
          // The chart already holds this seq: a retry after a lost 204. Same answer as the first time.
          count('duplicate');
          return c.body(null, 204);
        case 'IllegalForState':
          count('illegal_transition');
          return jsonError(c, 409, 'illegal_transition', describeHostTransitionError(e));
        case 'Invariant':
          count('invariant');
          return jsonError(c, 409, 'invariant', describeHostTransitionError(e));
        case 'UnknownActor':
          count('unknown_rollout');
          return jsonError(
            c,
            404,
            'unknown_rollout',
            `no record of ${hostname} in rollout ${rolloutId}; the CP opens records when it plans a rollout`,
          );
        case 'Quarantined':
          count('quarantined');
          return jsonError(
            c,
            409,
            'record_quarantined',
            `the CP could not restore ${hostname}'s record of ${rolloutId} (${e.reason}); an operator must repair it`,
          );
        case 'WrongKind':
          count('illegal_transition');
          return jsonError(c, 409, 'illegal_transition', `${e.key} is not a host-rollout record`);
      }
      return jsonError(c, 409, 'illegal_transition', 'the event was refused');
    },
  );
  return app;
}
