// Exactly-once bookkeeping of activations: `<stateDir>/activations/<rolloutId>.json` says, for each
// rollout, whether its switch (and its rollback) was started, how, and how it ended. It is written
// BEFORE the command starts, so after a crash the agent can tell "the switch already ran (or is
// running)" from "it never ran" and never fires a second switch for the same dispatch (seed 000
// scenarios 2 and 3, spec §6.15).
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../actors/index.ts';
import { timestampSchema } from '../../proto/index.ts';

export const ACTIVATIONS_DIR = 'activations';

export const attemptOutcomeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('completed'), at: timestampSchema, observedClosure: z.string() }),
  z.object({ kind: z.literal('deferred'), at: timestampSchema, component: z.string() }),
  z.object({
    kind: z.literal('failed'),
    at: timestampSchema,
    exitCode: z.number().int(),
    stderrTail: z.string(),
  }),
]);
export type AttemptOutcome = z.infer<typeof attemptOutcomeSchema>;

export const activationAttemptSchema = z.object({
  /** The closure (basename) this attempt switches to. */
  target: z.string(),
  startedAt: timestampSchema,
  method: z.enum(['systemd-run', 'child']),
  /** Transient unit (systemd-run) or process id (child), to ask whether it still runs. */
  unit: z.string().nullable(),
  pid: z.number().int().nullable(),
  /** Basename of the current-system link before the command ran (verify-mismatch detection). */
  priorClosure: z.string().nullable(),
  /** Null while the attempt is in flight, or when the agent died before it ended. */
  outcome: attemptOutcomeSchema.nullable(),
});
export type ActivationAttempt = z.infer<typeof activationAttemptSchema>;

export const activationRecordSchema = z.object({
  version: z.literal(1),
  rolloutId: z.string(),
  switch: activationAttemptSchema.nullable(),
  rollback: activationAttemptSchema.nullable(),
});
export type ActivationRecord = z.infer<typeof activationRecordSchema>;

export type AttemptKind = 'switch' | 'rollback';

/** Rollout ids are `<channel>@<ref>` without separators; anything odd still cannot leave the dir. */
export const activationFileStem = (rolloutId: string): string => rolloutId.replace(/[^A-Za-z0-9@.-]/g, '_');

export function activationPaths(stateDir: string, rolloutId: string) {
  const dir = join(stateDir, ACTIVATIONS_DIR);
  const stem = activationFileStem(rolloutId);
  return {
    dir,
    record: join(dir, `${stem}.json`),
    stdout: (kind: AttemptKind) => join(dir, `${stem}.${kind}.stdout`),
    stderr: (kind: AttemptKind) => join(dir, `${stem}.${kind}.stderr`),
  };
}

export type ReadActivationRecordResult =
  | { ok: true; record: ActivationRecord | null }
  | { ok: false; error: { code: 'ActivationRecordUnreadable'; path: string; message: string } };

/** The rollout's record; `null` when none was ever written (nothing ran for it). */
export async function readActivationRecord(
  stateDir: string,
  rolloutId: string,
): Promise<ReadActivationRecordResult> {
  const path = activationPaths(stateDir, rolloutId).record;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, record: null };
    return {
      ok: false,
      error: { code: 'ActivationRecordUnreadable', path, message: (error as Error).message },
    };
  }
  try {
    const parsed = activationRecordSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(parsed.error.message);
    if (parsed.data.rolloutId !== rolloutId) throw new Error(`the file belongs to ${parsed.data.rolloutId}`);
    return { ok: true, record: parsed.data };
  } catch (error) {
    return {
      ok: false,
      error: {
        code: 'ActivationRecordUnreadable',
        path,
        message: `${(error as Error).message}; move the file away only if you know no switch ran for this rollout`,
      },
    };
  }
}

export async function writeActivationRecord(stateDir: string, record: ActivationRecord): Promise<void> {
  const paths = activationPaths(stateDir, record.rolloutId);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(paths.record, `${JSON.stringify(record, null, 2)}\n`);
}
