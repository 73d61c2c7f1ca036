// On-disk layout of the durable outbound queue (spec §6.10, contract §3 `outbound/`):
//
//   outbound/<counter:020>-<rolloutId>-<seq>-<kind>.json   pending, written tmp → fsync → rename
//   outbound/sent/<same name>                             acked, kept briefly for Replay-From (G13)
//   outbound/dead/<same name> (+ <stem>.reason.json)      refused for good by the CP (G5)
//
// The leading counter is global and monotonic across rollouts, so two rollouts that reach the same
// seq never share a name (the original keyed files by seq alone and one shadowed the other, G4).
// Only the counter is read back from a name; everything else comes from the file's content.
import { z } from 'zod';
import { type AgentEventEnvelope, agentEventEnvelopeSchema, timestampSchema } from '../../proto/index.ts';

export const OUTBOUND_DIR = 'outbound';
export const SENT_DIR = 'sent';
export const DEAD_DIR = 'dead';

const COUNTER_WIDTH = 20;
const QUEUE_FILE = /^(\d{20})-[^/]*\.json$/;
const REASON_SUFFIX = '.reason.json';

/** Every character outside `[A-Za-z0-9@.-]` becomes `_` (the original's rule, spec §6.10). */
export function safeNamePart(part: string): string {
  return part.replace(/[^A-Za-z0-9@.-]/g, '_');
}

export function queueFileName(counter: number, envelope: AgentEventEnvelope): string {
  const c = String(counter).padStart(COUNTER_WIDTH, '0');
  return `${c}-${safeNamePart(envelope.rolloutId)}-${envelope.event.seq}-${envelope.event.kind}.json`;
}

/** The counter of a queue file name, or null for anything else (temp files, reason sidecars). */
export function counterOf(name: string): number | null {
  if (name.endsWith(REASON_SUFFIX)) return null;
  const digits = QUEUE_FILE.exec(name)?.[1];
  if (digits === undefined) return null;
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : null;
}

/** Same counter, new position: a replayed event keeps its content and takes a fresh counter. */
export function renumbered(name: string, counter: number): string {
  return `${String(counter).padStart(COUNTER_WIDTH, '0')}${name.slice(COUNTER_WIDTH)}`;
}

export function reasonFileName(name: string): string {
  return `${name.slice(0, -'.json'.length)}${REASON_SUFFIX}`;
}

export const queuedEventFileSchema = z.object({
  version: z.literal(1),
  /** Agent clock when the applier enqueued the event (informational). */
  enqueuedAt: timestampSchema,
  /** Exactly the `POST /v1/agent/events` body (spec §5.4). */
  envelope: agentEventEnvelopeSchema,
});
export type QueuedEventFile = z.infer<typeof queuedEventFileSchema>;

export type ParseQueuedEventResult = { ok: true; file: QueuedEventFile } | { ok: false; message: string };

export function parseQueuedEventFile(text: string): ParseQueuedEventResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { ok: false, message: `not JSON: ${(error as Error).message}` };
  }
  const parsed = queuedEventFileSchema.safeParse(raw);
  return parsed.success
    ? { ok: true, file: parsed.data }
    : { ok: false, message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
}

export function serializeQueuedEvent(file: QueuedEventFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}
