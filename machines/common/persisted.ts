// Persisted actor snapshots for both charts: XState's value + context + status, tagged with the
// chart id and version that wrote them (XState records neither). Restoring validates instead of
// trusting: a row or file that fails is reported as data, never thrown, so one bad record cannot
// take a process down (spec/xstate-notes.md §1.5).
import { z } from 'zod';

export interface Persisted<Id extends string, State extends string, Ctx> {
  machineId: Id;
  machineVersion: number;
  status: 'active' | 'done';
  value: State;
  context: Ctx;
}

export type RestoreError =
  | { code: 'UnknownMachineVersion'; machineId: string; machineVersion: number; message: string }
  | { code: 'InvalidSnapshot'; message: string };

export type RestoreResult<S> = { ok: true; snapshot: S } | { ok: false; error: RestoreError };

export interface SnapshotCodec<Id extends string, State extends string, Ctx, S> {
  persist(snapshot: S): Persisted<Id, State, Ctx>;
  restore(raw: unknown): RestoreResult<S>;
}

export function createSnapshotCodec<Id extends string, State extends string, Ctx, S>(options: {
  machineId: Id;
  machineVersion: number;
  resolve: (value: State, context: Ctx) => S;
  stateSchema: z.ZodType<State>;
  contextSchema: z.ZodType<Ctx>;
  read: (snapshot: S) => { value: State; context: Ctx; done: boolean };
}): SnapshotCodec<Id, State, Ctx, S> {
  const schema = z.object({
    machineId: z.literal(options.machineId),
    machineVersion: z.number().int().positive(),
    status: z.enum(['active', 'done']),
    value: options.stateSchema,
    context: options.contextSchema,
  });
  return {
    persist(snapshot) {
      const { value, context, done } = options.read(snapshot);
      return {
        machineId: options.machineId,
        machineVersion: options.machineVersion,
        status: done ? 'done' : 'active',
        value,
        context,
      };
    },
    restore(raw) {
      const parsed = schema.safeParse(raw);
      if (!parsed.success) {
        return { ok: false, error: { code: 'InvalidSnapshot', message: z.prettifyError(parsed.error) } };
      }
      const p = parsed.data;
      // Running actors stay on the chart version they started with; a newer build keeps the old
      // chart (or a pure JSON migration) for them. Version 1 is the only one so far.
      if (p.machineVersion !== options.machineVersion) {
        return {
          ok: false,
          error: {
            code: 'UnknownMachineVersion',
            machineId: p.machineId,
            machineVersion: p.machineVersion,
            message: `no ${p.machineId} chart of version ${p.machineVersion} (this build has ${options.machineVersion})`,
          },
        };
      }
      return { ok: true, snapshot: options.resolve(p.value as State, p.context as Ctx) };
    },
  };
}
