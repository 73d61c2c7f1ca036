// Plumbing shared by the `nixfleet release` subcommands: exit codes (contract §1), operator-facing
// failures as values, and file reads that name the file and the field at fault.
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { parseJson } from '../../proto/canonicalJson.ts';
import { issuesFromZod } from '../../proto/fleet/zodIssues.ts';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Where a subcommand writes; tests and the process entry point pass their own. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

export const processIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** A failure the operator fixes by changing the invocation or its input files: exit 2. */
export interface UsageFailure {
  readonly kind: 'usage';
  /** Lines for stderr; the first names the flag or file at fault. */
  readonly lines: readonly string[];
}

export function usage(...lines: string[]): UsageFailure {
  return { kind: 'usage', lines };
}

export type Loaded<T> = { ok: true; value: T } | { ok: false; failure: UsageFailure };

function errnoText(err: unknown): string {
  const code = err instanceof Error && 'code' in err ? String(err.code) : '';
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory, expected a file';
  return err instanceof Error ? err.message : String(err);
}

/** Reads a file given by a flag; a failure names both. */
export async function readArgFile(flag: string, path: string): Promise<Loaded<Buffer>> {
  try {
    return { ok: true, value: await readFile(path) };
  } catch (err) {
    return { ok: false, failure: usage(`${flag} ${path}: ${errnoText(err)}`) };
  }
}

/** Reads a JSON file given by a flag and checks it with `schema`; failures list each bad field. */
export async function readJsonArg<S extends z.ZodType>(
  flag: string,
  path: string,
  schema: S,
): Promise<Loaded<z.output<S>>> {
  const bytes = await readArgFile(flag, path);
  if (!bytes.ok) return bytes;
  const json = parseJson(bytes.value);
  if (!json.ok) return { ok: false, failure: usage(`${flag} ${path}: not valid JSON: ${json.detail}`) };
  const parsed = schema.safeParse(json.value, { reportInput: true });
  if (parsed.success) return { ok: true, value: parsed.data };
  return {
    ok: false,
    failure: usage(
      `${flag} ${path}: invalid:`,
      ...issuesFromZod(parsed.error).map((i) => `  ${i.path}: ${i.message}`),
    ),
  };
}

/** Validates parsed CLI options; a failure names the flag (`--ci-commit`) from the zod path. */
export function parseOptions<S extends z.ZodType>(
  command: string,
  schema: S,
  raw: unknown,
): Loaded<z.output<S>> {
  const parsed = schema.safeParse(raw, { reportInput: true });
  if (parsed.success) return { ok: true, value: parsed.data };
  return {
    ok: false,
    failure: usage(
      ...parsed.error.issues.map((i) => {
        const key = String(i.path[0] ?? '');
        const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
        return `nixfleet ${command}: ${flag}: ${i.message}`;
      }),
    ),
  };
}

/**
 * Runs a subcommand body and ends the process with its exit code. Any unexpected exception becomes
 * one line and exit 1: an operator never sees a stack trace (contract §1).
 */
export async function runToExit(command: string, body: (io: CliIo) => Promise<number>): Promise<void> {
  let code: number;
  try {
    code = await body(processIo);
  } catch (err) {
    processIo.err(`nixfleet ${command}: ${err instanceof Error ? err.message : String(err)}`);
    code = EXIT_FAILED;
  }
  // `main` would turn a normal return into exit 0; failures leave here with their own code.
  if (code !== EXIT_OK) process.exit(code);
}

export function report(io: CliIo, failure: UsageFailure): number {
  for (const line of failure.lines) io.err(line);
  return EXIT_USAGE;
}
