// `nixfleet cp` configuration (contract §1-2, spec §7.18), resolved once at start: flags > env
// (`NIXFLEET_<FLAG_IN_CAPS>`, plus `DATABASE_URL`) > `--config file.yaml` > defaults, validated by one
// zod schema into a frozen object. Nothing else in the CP reads `process.env`. A bad value is a
// usage error that names the flag (and where the value came from), never a stack trace.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseDuration } from '../proto/duration.ts';

/** Every option of `nixfleet cp`, by its camelCase key; the flag is its kebab-case form. */
export const CP_OPTION_KEYS = [
  'listen',
  'databaseUrl',
  'dataDir',
  'releaseDir',
  'trustFile',
  'tlsCert',
  'tlsKey',
  'clientCa',
  'caCert',
  'caKey',
  'agentCertValidity',
  'agentCnSuffix',
  'planInterval',
  'longpollMaxWait',
  'releasePollInterval',
  'insecureHttp',
  'replicaId',
  'logFormat',
  'logLevel',
] as const;
export type CpOptionKey = (typeof CP_OPTION_KEYS)[number];

/** `releaseDir` → `--release-dir`. */
export const flagOf = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
/** `releaseDir` → `NIXFLEET_RELEASE_DIR`; `databaseUrl` also answers to `DATABASE_URL`. */
export const envOf = (key: string): string =>
  `NIXFLEET_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

const duration = (min: number, what: string) =>
  z.string().transform((v, ctx) => {
    const d = parseDuration(v);
    if (!d.ok) {
      ctx.addIssue({ code: 'custom', message: d.error.message });
      return z.NEVER;
    }
    if (d.ms < min) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is too short: ${what} must be at least ${min} ms` });
      return z.NEVER;
    }
    return d.ms;
  });

const bool = z.union([
  z.boolean(),
  z
    .enum(['1', 'true', 'yes', 'on', '0', 'false', 'no', 'off', ''])
    .transform((v) => ['1', 'true', 'yes', 'on'].includes(v)),
]);

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** `host:port`, `[v6]:port`; port 0 asks the kernel for a free one (tests). */
export function parseListen(value: string): ListenAddress | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  if (m === null) return null;
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (host === '' || port > 65_535) return null;
  if (m[1] !== undefined && isIP(host) !== 6) return null;
  return { host, port };
}

/** Loopback: where `--insecure-http` may listen (contract §2). */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

const nonEmpty = z.string().min(1, 'is empty');
const optionalPath = nonEmpty.optional();

const cpConfigSchema = z
  .object({
    listen: z.string().transform((v, ctx) => {
      const l = parseListen(v);
      if (l === null) {
        ctx.addIssue({
          code: 'custom',
          message: `"${v}" is not host:port (e.g. 0.0.0.0:8080 or [::1]:8080)`,
        });
        return z.NEVER;
      }
      return l;
    }),
    // An empty DATABASE_URL means "not set", not "connect to the libpq defaults".
    databaseUrl: z
      .string()
      .optional()
      .transform((v) => (v === '' ? undefined : v))
      .refine((v) => v === undefined || /^postgres(ql)?:\/\//.test(v), 'expected a postgres:// URL'),
    dataDir: nonEmpty,
    releaseDir: z
      .string({ error: 'is required: the directory of signed releases to serve' })
      .min(1, 'is empty'),
    trustFile: nonEmpty,
    tlsCert: optionalPath,
    tlsKey: optionalPath,
    clientCa: optionalPath,
    caCert: optionalPath,
    caKey: optionalPath,
    agentCertValidity: duration(60_000, 'agent certificate validity'),
    agentCnSuffix: optionalPath,
    planInterval: duration(100, 'the plan interval'),
    longpollMaxWait: duration(0, 'the long-poll wait'),
    releasePollInterval: duration(100, 'the release poll interval'),
    insecureHttp: bool,
    replicaId: optionalPath,
    logFormat: z.enum(['json', 'pretty']),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  })
  .superRefine((c, ctx) => {
    if (c.insecureHttp && !isLoopbackHost(c.listen.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['insecureHttp'],
        message: `refused: --listen ${c.listen.host} is not a loopback address; plain HTTP takes agent identity on trust, so it is for local demos and tests only (listen on 127.0.0.1, or configure --tls-cert/--tls-key/--client-ca)`,
      });
    }
    if (!c.insecureHttp) {
      for (const key of ['tlsCert', 'tlsKey'] as const) {
        if (c[key] === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'is required for HTTPS (or pass --insecure-http on a loopback --listen)',
          });
        }
      }
    }
    if ((c.caCert === undefined) !== (c.caKey === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.caCert === undefined ? 'caCert' : 'caKey'],
        message: '--ca-cert and --ca-key go together (the issuing CA for enroll/renew)',
      });
    }
  });

export type CpConfigData = z.output<typeof cpConfigSchema>;
/** The resolved configuration: immutable, and the only place options live. */
export type CpConfig = Readonly<Omit<CpConfigData, 'listen'>> & {
  readonly listen: ListenAddress;
  /** Where each option's value came from, for the start-up log line. */
  readonly sources: Readonly<Partial<Record<CpOptionKey, ConfigSource>>>;
};

export type ConfigSource = 'flag' | 'env' | 'file' | 'default';

/** Production defaults (contract §2). */
export const CP_DEFAULTS: Readonly<Partial<Record<CpOptionKey, string | boolean>>> = Object.freeze({
  listen: '0.0.0.0:8080',
  dataDir: '/var/lib/nixfleet-cp',
  trustFile: '/etc/nixfleet/cp/trust.json',
  agentCertValidity: '30d',
  planInterval: '15s',
  longpollMaxWait: '60s',
  releasePollInterval: '60s',
  insecureHttp: false,
  logFormat: 'json',
  logLevel: 'info',
});

export interface ConfigProblem {
  /** `--release-dir`, or `--config` for the file itself. */
  readonly flag: string;
  readonly message: string;
}

export type ResolveConfigResult = { ok: true; config: CpConfig } | { ok: false; problems: ConfigProblem[] };

export interface ResolveCpConfigInput {
  /** Parsed flags by camelCase key; `undefined` = not given. May carry `config` (the file path). */
  flags: Readonly<Record<string, unknown>>;
  env: Readonly<Record<string, string | undefined>>;
  /** Reads the `--config` file; injectable for tests. */
  readTextFile?: (path: string) => Promise<string>;
}

const camel = (k: string) => k.replace(/[-_]([a-z])/g, (_, c: string) => c.toUpperCase());

async function loadFile(
  path: string,
  read: (path: string) => Promise<string>,
): Promise<{ ok: true; values: Record<string, unknown> } | { ok: false; problem: ConfigProblem }> {
  let text: string;
  try {
    text = await read(path);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const why = code === 'ENOENT' ? 'no such file' : err instanceof Error ? err.message : String(err);
    return { ok: false, problem: { flag: '--config', message: `${path}: ${why}` } };
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return {
      ok: false,
      problem: {
        flag: '--config',
        message: `${path}: not YAML: ${err instanceof Error ? err.message : String(err)}`,
      },
    };
  }
  if (doc === null || doc === undefined) return { ok: true, values: {} };
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    return {
      ok: false,
      problem: { flag: '--config', message: `${path}: expected a mapping of option: value` },
    };
  }
  const values: Record<string, unknown> = {};
  for (const [rawKey, value] of Object.entries(doc)) {
    const key = camel(rawKey);
    if (!(CP_OPTION_KEYS as readonly string[]).includes(key)) {
      return {
        ok: false,
        problem: {
          flag: '--config',
          message: `${path}: unknown option "${rawKey}" (options are the flag names)`,
        },
      };
    }
    // Numbers and booleans are kept as YAML typed them; durations must still carry a unit.
    values[key] = typeof value === 'number' ? String(value) : value;
  }
  return { ok: true, values };
}

/** Resolves and validates; never throws for bad input. */
export async function resolveCpConfig(input: ResolveCpConfigInput): Promise<ResolveConfigResult> {
  const read = input.readTextFile ?? ((p: string) => readFile(p, 'utf8'));
  const configPath = input.flags.config ?? input.env.NIXFLEET_CONFIG;
  let file: Record<string, unknown> = {};
  if (typeof configPath === 'string' && configPath !== '') {
    const loaded = await loadFile(configPath, read);
    if (!loaded.ok) return { ok: false, problems: [loaded.problem] };
    file = loaded.values;
  }

  const raw: Record<string, unknown> = {};
  const sources: Partial<Record<CpOptionKey, ConfigSource>> = {};
  for (const key of CP_OPTION_KEYS) {
    // An empty variable is an unset one (`DATABASE_URL=` must not mean "the libpq defaults").
    const fromEnv = (name: string) => (input.env[name] === '' ? undefined : input.env[name]);
    const envValue = fromEnv(envOf(key)) ?? (key === 'databaseUrl' ? fromEnv('DATABASE_URL') : undefined);
    const candidates: [ConfigSource, unknown][] = [
      ['flag', input.flags[key]],
      ['env', envValue],
      ['file', file[key]],
      ['default', CP_DEFAULTS[key]],
    ];
    const found = candidates.find(([, v]) => v !== undefined);
    if (found !== undefined) {
      raw[key] = found[1];
      sources[key] = found[0];
    }
  }

  const parsed = cpConfigSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const source = sources[key as CpOptionKey];
      const from =
        source === 'env'
          ? ` (from ${input.env[envOf(key)] !== undefined ? envOf(key) : 'DATABASE_URL'})`
          : source === 'file'
            ? ` (from ${String(configPath)})`
            : '';
      const message = issue.code === 'invalid_type' && raw[key] === undefined ? 'is required' : issue.message;
      return { flag: flagOf(key), message: `${message}${from}` };
    });
    return { ok: false, problems };
  }
  const config: CpConfig = Object.freeze({
    ...parsed.data,
    listen: Object.freeze(parsed.data.listen),
    sources: Object.freeze(sources),
  });
  return { ok: true, config };
}

/** The `--config`-free view for logs: paths and durations, never a database password. */
export function describeConfig(config: CpConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config, listen: `${config.listen.host}:${config.listen.port}` };
  if (config.databaseUrl !== undefined) {
    try {
      const u = new URL(config.databaseUrl);
      if (u.password !== '') u.password = '***';
      out.databaseUrl = u.toString();
    } catch {
      out.databaseUrl = '<unparsable>';
    }
  }
  return out;
}
