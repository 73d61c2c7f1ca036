// `POST /v1/agent/heartbeat` (spec §5.5, §7.4-7.6): record presence, run heartbeat recovery
// (`cp/recovery`, pure) over the host's active records, feed each synthesised event through the
// host's actor (so it is checked by the chart, made durable and its effects applied exactly as an
// agent's event would be), then answer with the bootstrap snapshots and the replay point.
import { and, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { type ActorRuntime, ActorStoreError, hostRolloutKey } from '../../actors/index.ts';
import { type Database, hostPresence, hostRolloutRecords } from '../../db/index.ts';
import type { HostRolloutSnapshot } from '../../machines/index.ts';
import { encodeHeartbeatResponse, heartbeatRequestSchema, REPLAY_FROM_HEADER } from '../../proto/index.ts';
import { jsonError } from '../identity/index.ts';
import { evaluateHostForDispatch, type PlannerInput } from '../planner/index.ts';
import { alreadyOnTarget, type GateCheck, recoverFromHeartbeat } from '../recovery/index.ts';
import { type AgentAuthMode, type CpEnv, isDatabaseError, jsonBody, refuseUnlessCaller } from './shared.ts';

export interface HeartbeatRoutesOptions {
  auth: AgentAuthMode;
  db: Database;
  runtime: () => ActorRuntime | undefined;
  clock: () => Date;
  /**
   * The planner's input as of now, for the dispatch gates a Pending record must pass before it is
   * synthesised to Converged (spec §4.6); undefined when nothing can be planned (→ blocked).
   */
  plannerInput: () => Promise<PlannerInput | undefined>;
  onSynthesized?: (count: number) => void;
}

const MAX_HEARTBEAT_BYTES = 64 * 1024;

export function createHeartbeatRoutes(options: HeartbeatRoutesOptions): Hono<CpEnv> {
  const app = new Hono<CpEnv>();
  app.post(
    '/v1/agent/heartbeat',
    bodyLimit({
      maxSize: MAX_HEARTBEAT_BYTES,
      onError: (c) =>
        jsonError(c, 413, 'body_too_large', `a heartbeat is at most ${MAX_HEARTBEAT_BYTES} bytes`),
    }),
    async (c) => {
      const body = await jsonBody(c, heartbeatRequestSchema);
      if (!body.ok) return body.response;
      const request = body.value;
      const refused = refuseUnlessCaller(c, options.auth, request.hostname);
      if (refused !== undefined) return refused;
      const runtime = options.runtime();
      if (runtime === undefined) {
        return jsonError(c, 503, 'not_running', 'the control plane is starting or shutting down; retry');
      }
      const now = options.clock();
      try {
        // Presence first (spec §7.4 step 1, P4): it survives restarts and feeds /metrics.
        await options.db
          .insert(hostPresence)
          .values({
            hostname: request.hostname,
            lastHeartbeatAt: now,
            currentClosure: request.current_closure,
            agentVersion: request.agent_version,
          })
          .onConflictDoUpdate({
            target: hostPresence.hostname,
            set: {
              lastHeartbeatAt: now,
              currentClosure: request.current_closure,
              agentVersion: request.agent_version,
            },
          });
        const active = await options.db
          .select({ rolloutId: hostRolloutRecords.rolloutId })
          .from(hostRolloutRecords)
          .where(
            and(eq(hostRolloutRecords.hostname, request.hostname), eq(hostRolloutRecords.status, 'active')),
          );
        const records: HostRolloutSnapshot[] = [];
        for (const { rolloutId } of active) {
          const s = runtime.snapshotOf('hostRollout', hostRolloutKey(rolloutId, request.hostname));
          if (s !== undefined) records.push(s);
        }
        // The gates are consulted only for a Pending record already on target (a CP wipe); load
        // the planner's view only then.
        let gatesAllow: GateCheck = () => false;
        if (records.some((r) => alreadyOnTarget(r, request.current_closure))) {
          const input = await options.plannerInput();
          gatesAllow = (record) => {
            if (input === undefined) return { allow: false, reason: 'no verified release to plan against' };
            const block = evaluateHostForDispatch(input, record.context.rolloutId, record.context.hostname);
            return block === null ? { allow: true } : { allow: false, reason: block.reason };
          };
        }
        const recovery = recoverFromHeartbeat({ request, records, now: now.toISOString(), gatesAllow });
        const refusedKeys = new Set<string>();
        for (const s of recovery.synthesis.events) {
          const key = hostRolloutKey(s.rolloutId, s.hostname);
          if (refusedKeys.has(key)) continue;
          const r = await runtime.send('hostRollout', key, s.event);
          // A concurrent agent event got there first: the record moved on and the chart refuses the
          // rest of this chain; the next heartbeat re-evaluates it from the new state.
          if (!r.ok) refusedKeys.add(key);
        }
        options.onSynthesized?.(recovery.synthesis.events.length);
        if (recovery.replayFrom !== null) c.header(REPLAY_FROM_HEADER, String(recovery.replayFrom));
        return c.json(encodeHeartbeatResponse(recovery.response), 200);
      } catch (error) {
        if (!(error instanceof ActorStoreError) && !isDatabaseError(error)) throw error;
        return jsonError(
          c,
          503,
          'store_unavailable',
          'the heartbeat was not processed (database unavailable); retry',
        );
      }
    },
  );
  return app;
}
