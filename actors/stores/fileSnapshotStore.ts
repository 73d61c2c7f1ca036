// The agent's snapshot store: one JSON file per actor in its state dir, each holding the persisted
// snapshot, the effects not yet run and the armed timers, so everything one step writes lands in a
// single atomic rename. Writes are fenced on the file's version like the PostgreSQL store.
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { ActorKindName } from '../actorKinds.ts';
import { KeyedMailbox } from '../keyedMailbox.ts';
import type {
  ActorWrite,
  EffectMark,
  OutboxEntry,
  SnapshotStore,
  StoredActor,
  TimerRow,
  WriteOutcome,
} from '../snapshotStore.ts';
import { isTemporaryFile, writeFileAtomic } from './atomicFile.ts';

const FILE_FORMAT = 1;

const effectSchema = z.looseObject({ type: z.string() });
const actorFileSchema = z.object({
  format: z.literal(FILE_FORMAT),
  key: z.string(),
  kind: z.enum(['hostRollout', 'rollout']),
  version: z.number().int().nonnegative(),
  status: z.enum(['active', 'done', 'quarantined']),
  persisted: z.unknown(),
  effects: z.array(z.object({ version: z.number(), idx: z.number(), effect: effectSchema })),
  timers: z.array(z.object({ timerId: z.string(), event: effectSchema, dueAt: z.string() })),
});
type ActorFile = z.infer<typeof actorFileSchema>;

const kindOfKey = (key: string): ActorKindName => (key.startsWith('rollout:') ? 'rollout' : 'hostRollout');

export class FileSnapshotStore implements SnapshotStore {
  readonly #dir: string;
  // Every read-modify-write of one file runs alone: a step's write and the marking of its
  // effects as done would otherwise race and one would overwrite the other.
  readonly #files = new KeyedMailbox();

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** `dir` is created if missing (e.g. `<state-dir>/actors`). */
  static async open(dir: string): Promise<FileSnapshotStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new FileSnapshotStore(dir);
  }

  #path(key: string): string {
    return join(this.#dir, `${encodeURIComponent(key)}.json`);
  }

  async #read(key: string): Promise<ActorFile | null | 'unreadable'> {
    let text: string;
    try {
      text = await readFile(this.#path(key), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      const parsed = actorFileSchema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : 'unreadable';
    } catch {
      return 'unreadable';
    }
  }

  async #all(): Promise<{ key: string; file: ActorFile | 'unreadable' }[]> {
    const names = (await readdir(this.#dir)).filter((n) => n.endsWith('.json') && !isTemporaryFile(n)).sort();
    const out: { key: string; file: ActorFile | 'unreadable' }[] = [];
    for (const name of names) {
      const key = decodeURIComponent(name.slice(0, -'.json'.length));
      const file = await this.#read(key);
      if (file !== null) out.push({ key, file });
    }
    return out;
  }

  async loadActive(): Promise<StoredActor[]> {
    const actors: StoredActor[] = [];
    for (const { key, file } of await this.#all()) {
      // An unreadable file is handed over as such: restore fails and the runtime quarantines it.
      if (file === 'unreadable') actors.push({ key, kind: kindOfKey(key), version: 0, persisted: null });
      else if (file.status === 'active') {
        actors.push({ key, kind: file.kind, version: file.version, persisted: file.persisted });
      }
    }
    return actors;
  }

  async load(key: string): Promise<StoredActor | null> {
    const file = await this.#read(key);
    if (file === null || file === 'unreadable' || file.status === 'quarantined') return null;
    return { key, kind: file.kind, version: file.version, persisted: file.persisted };
  }

  async write(
    batch: readonly ActorWrite[],
    effectsDone: readonly EffectMark[] = [],
  ): Promise<WriteOutcome[]> {
    const outcomes = await Promise.all(batch.map((w) => this.#files.run(w.key, () => this.#writeOne(w))));
    // Files are per actor, so marks cannot share the step's rename; write them after it.
    await this.markEffectsDone(effectsDone);
    return outcomes;
  }

  async #writeOne(w: ActorWrite): Promise<WriteOutcome> {
    const current = await this.#read(w.key);
    const fresh = w.expectedVersion === null;
    const matches = fresh
      ? current === null
      : current !== null && current !== 'unreadable' && current.version === w.expectedVersion;
    if (!matches || (current !== null && current !== 'unreadable' && current.status !== 'active')) {
      return 'conflict';
    }
    const prior = current === null || current === 'unreadable' ? null : current;
    const cancelled = new Set(w.cancelTimers);
    const armed = new Set(w.armTimers.map((t) => t.timerId));
    const next: ActorFile = {
      format: FILE_FORMAT,
      key: w.key,
      kind: w.kind,
      version: w.version,
      status: w.done ? 'done' : 'active',
      persisted: w.persisted,
      effects: [
        ...(prior?.effects ?? []),
        ...w.effects.map((effect, idx) => ({ version: w.version, idx, effect })),
      ],
      timers: [
        ...(prior?.timers ?? []).filter((t) => !cancelled.has(t.timerId) && !armed.has(t.timerId)),
        ...w.armTimers.map((t) => ({ timerId: t.timerId, event: t.event, dueAt: t.dueAt.toISOString() })),
      ],
    };
    await writeFileAtomic(this.#path(w.key), JSON.stringify(next));
    return 'ok';
  }

  quarantine(key: string, _kind: ActorKindName, reason: string): Promise<void> {
    // Keep the bytes for whoever investigates, under a name the loader ignores.
    return this.#files.run(key, async () => {
      const aside = `${this.#path(key)}.quarantined`;
      await rename(this.#path(key), aside).catch(() => undefined);
      await writeFileAtomic(`${aside}.reason`, `${reason}\n`);
    });
  }

  async pendingEffects(): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = [];
    for (const { key, file } of await this.#all()) {
      if (file === 'unreadable') continue;
      for (const e of file.effects) out.push({ key, version: e.version, idx: e.idx, effect: e.effect });
    }
    return out;
  }

  async markEffectsDone(entries: readonly EffectMark[]): Promise<void> {
    const byKey = new Map<string, Set<string>>();
    for (const e of entries) {
      const set = byKey.get(e.key) ?? new Set<string>();
      set.add(`${e.version}:${e.idx}`);
      byKey.set(e.key, set);
    }
    await Promise.all(
      [...byKey].map(([key, done]) =>
        this.#files.run(key, async () => {
          const file = await this.#read(key);
          if (file === null || file === 'unreadable') return;
          const effects = file.effects.filter((e) => !done.has(`${e.version}:${e.idx}`));
          if (effects.length !== file.effects.length) {
            await writeFileAtomic(this.#path(key), JSON.stringify({ ...file, effects }));
          }
        }),
      ),
    );
  }

  async loadTimers(): Promise<TimerRow[]> {
    const out: TimerRow[] = [];
    for (const { key, file } of await this.#all()) {
      if (file === 'unreadable' || file.status !== 'active') continue;
      for (const t of file.timers) {
        out.push({ key, timerId: t.timerId, event: t.event, dueAt: new Date(t.dueAt) });
      }
    }
    return out;
  }

  deleteTimer(key: string, timerId: string): Promise<void> {
    return this.#files.run(key, async () => {
      const file = await this.#read(key);
      if (file === null || file === 'unreadable') return;
      const timers = file.timers.filter((t) => t.timerId !== timerId);
      if (timers.length !== file.timers.length) {
        await writeFileAtomic(this.#path(key), JSON.stringify({ ...file, timers }));
      }
    });
  }

  async close(): Promise<void> {}
}
