// `--probes-file` (contract §2; default /etc/nixfleet/agent/health-checks.json):
//   [{ "name", "command", "interval": "10s", "timeout": "5s", "mode": "enforce"|"observe"|"disabled" }]
// `command` is an argv array, or a string split like a shell line without being run by one.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { parseDuration, probeModeSchema } from '../../proto/index.ts';
import { splitCommandLine } from '../activation/index.ts';

/** The original's floor (spec §6.12): a probe every few hundred ms would load the host it guards. */
export const MIN_PROBE_INTERVAL_MS = 5_000;

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const parsed = parseDuration(v);
      if (!parsed.ok) {
        ctx.addIssue({ code: 'custom', message: parsed.error.message });
        return z.NEVER;
      }
      return parsed.ms;
    });

export const probeDeclSchema = z
  // Strict: a misspelt "intreval" must be an error, not a silently applied default.
  .strictObject({
    name: z.string().min(1).max(128),
    command: z.union([z.string().min(1), z.array(z.string()).min(1)]),
    /** Time between the end of one run and the start of the next. Default 30 s, floor 5 s. */
    interval: duration('30s'),
    /** The run is killed (its whole process group) after this long and counts as a failure. Default 10 s. */
    timeout: duration('10s').refine((ms) => ms > 0, 'timeout must be positive'),
    /** enforce: gates convergence and sustained failure; observe: reported only; disabled: never run. */
    mode: probeModeSchema.default('enforce'),
  })
  .transform((p, ctx) => {
    let argv: string[];
    if (typeof p.command === 'string') {
      const split = splitCommandLine(p.command);
      if (!split.ok) {
        ctx.addIssue({ code: 'custom', path: ['command'], message: split.error.message });
        return z.NEVER;
      }
      argv = split.argv;
    } else argv = p.command;
    return {
      name: p.name,
      argv,
      intervalMs: Math.max(MIN_PROBE_INTERVAL_MS, p.interval),
      timeoutMs: p.timeout,
      mode: p.mode,
    };
  });
export type ProbeDecl = z.output<typeof probeDeclSchema>;

export const probesFileSchema = z.array(probeDeclSchema).superRefine((probes, ctx) => {
  const seen = new Set<string>();
  probes.forEach((p, i) => {
    // Names key the chart's probe map: two probes under one name would overwrite each other.
    if (seen.has(p.name))
      ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate probe name "${p.name}"` });
    seen.add(p.name);
  });
});

export type ProbesFileError =
  | { code: 'ProbesFileUnreadable'; path: string; message: string }
  | { code: 'ProbesFileInvalid'; path: string; message: string };

/** `probes: null` when the file does not exist: the host declares no health checks. */
export type LoadProbesFileResult =
  | { ok: true; probes: ProbeDecl[] | null }
  | { ok: false; error: ProbesFileError };

export function parseProbesFile(path: string, text: string): LoadProbesFileResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      error: { code: 'ProbesFileInvalid', path, message: `${path} is not JSON: ${(error as Error).message}` },
    };
  }
  const parsed = probesFileSchema.safeParse(raw);
  if (parsed.success) return { ok: true, probes: parsed.data };
  const issues = parsed.error.issues.map(
    (i) => `${i.path.length > 0 ? `[${i.path.join('.')}] ` : ''}${i.message}`,
  );
  return { ok: false, error: { code: 'ProbesFileInvalid', path, message: `${path}: ${issues.join('; ')}` } };
}

export async function loadProbesFile(path: string): Promise<LoadProbesFileResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, probes: null };
    return {
      ok: false,
      error: {
        code: 'ProbesFileUnreadable',
        path,
        message: `cannot read ${path}: ${(error as Error).message}`,
      },
    };
  }
  return parseProbesFile(path, text);
}
