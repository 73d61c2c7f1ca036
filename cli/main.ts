#!/usr/bin/env node
// The single `nixfleet` entry point (contract §1). Subcommands land with their issues; until then
// they say so and exit 1, but every one of them already answers `--help`.
import { Command, CommanderError, Option } from '@commander-js/extra-typings';
import { caInit } from './ca/index.ts';
import { notYetAvailable } from './notYetAvailable.ts';
import { runReleaseBuild, runReleaseKeygen, runReleaseVerify } from './release/index.ts';
import { tokenMint } from './token/index.ts';

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

function buildProgram(): Command {
  const program = new Command('nixfleet')
    .description('Pull-based rollout orchestrator for NixOS fleets')
    .version('0.1.0')
    .exitOverride();

  program
    .command('demo')
    .description('Run a control plane and simulated agents on embedded PGlite and watch a rollout')
    .option('--hosts <n>', 'number of simulated hosts', '12')
    .option('--fail-host <name>', 'make this host fail its probe to show rollback and quarantine')
    .option('--exit-when-done', 'exit 0 when every host is Converged')
    .action(() => notYetAvailable('demo', 7));

  program
    .command('cp')
    .description(
      'The control plane daemon. Options resolve as flag > env (NIXFLEET_<FLAG>, DATABASE_URL) > --config file > default',
    )
    .option('--config <file>', 'YAML file of options (keys are the flag names)')
    .option('--listen <host:port>', 'address to serve on (default 0.0.0.0:8080)')
    .option(
      '--database-url <url>',
      'PostgreSQL URL (env DATABASE_URL); absent: embedded PGlite in <data-dir>/pglite',
    )
    .option('--data-dir <dir>', 'state directory (default /var/lib/nixfleet-cp)')
    .option('--release-dir <dir>', 'signed release directory to verify and serve (polled)')
    .option('--trust-file <file>', 'trust.json (default /etc/nixfleet/cp/trust.json)')
    .option('--tls-cert <file>', 'server certificate (PEM)')
    .option('--tls-key <file>', 'server key (PEM)')
    .option('--client-ca <file>', 'CA for client certificates (mTLS; identity = certificate CN)')
    .option('--ca-cert <file>', 'issuing CA certificate for enroll/renew')
    .option('--ca-key <file>', 'issuing CA key for enroll/renew')
    .option('--agent-cert-validity <duration>', 'lifetime of issued agent certificates (default 30d)')
    .option('--agent-cn-suffix <suffix>', 'CN suffix of agent certificates (agent-<host>.<suffix>)')
    .option('--plan-interval <duration>', 'safety-net plan tick (default 15s)')
    .option('--longpoll-max-wait <duration>', 'longest dispatch long-poll (default 60s)')
    .option('--release-poll-interval <duration>', 'how often --release-dir is re-read (default 60s)')
    .option('--insecure-http', 'plain HTTP, agent identity from the request (loopback --listen only)')
    .option('--replica-id <id>', 'name of this replica (cluster)')
    .option('--log-format <format>', 'json or pretty (default json)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default info)')
    .action(async (opts) => {
      const { runCp } = await import('../cp/main.ts');
      process.exitCode = await runCp({ flags: opts, env: process.env });
    });
  program
    .command('agent')
    .description('The agent daemon')
    .action(() => notYetAvailable('agent', 6));

  const release = program.command('release').description('CI release tooling: keys, build, verify');
  release
    .command('keygen')
    .description('Generate an ed25519 release signing key pair (PKCS#8 PEM private, base64 raw public)')
    .requiredOption('--out <dir>', 'directory for release.key and release.pub')
    .option('--force', 'replace existing key files')
    .action((opts) => runReleaseKeygen(opts));
  release
    .command('build')
    .requiredOption('--fleet <file>')
    .requiredOption('--out <dir>')
    .requiredOption('--sign-key <file>')
    .option('--ci-commit <sha>', 'commit the release is signed at (default: git HEAD of the fleet file)')
    .option('--signed-at <timestamp>', 'RFC 3339 signing time (default: now)')
    .action((opts) => runReleaseBuild(opts));
  release
    .command('verify <dir>')
    .requiredOption('--trust-file <file>')
    .option('--now <timestamp>', 'RFC 3339 time to verify at (default: now)')
    .option('--freshness-window <duration>', "maximum artifact age (default: each channel's freshnessWindow)")
    .action((dir, opts) => runReleaseVerify(dir, opts));

  program
    .command('ca')
    .description('Enrollment CA')
    .command('init')
    .description('Create the enrollment CA (ca.key, ca.crt) and a CP server certificate (cp.key, cp.crt)')
    .requiredOption('--out <dir>', 'directory to write into; existing files are never overwritten')
    .option('--cp-hostname <name>', 'DNS name (or IP) agents use to reach the CP (default: this host name)')
    .option('--ca-validity <duration>', 'CA certificate lifetime', '3650d')
    .option('--cert-validity <duration>', 'CP server certificate lifetime', '397d')
    .action(async (options, command) => {
      const outcome = await caInit(options, new Date());
      if (outcome.ok) return void process.stdout.write(outcome.stdout);
      const message = `nixfleet ca init: ${outcome.message}`;
      if (outcome.exitCode === EXIT_USAGE)
        command.error(message, { exitCode: EXIT_USAGE, code: outcome.code });
      throw new CliRuntimeError(outcome.code, `ca init: ${outcome.message}`);
    });
  program
    .command('token')
    .description('Bootstrap tokens')
    .command('mint')
    .requiredOption('--host <name>')
    .requiredOption('--org-key <file>')
    .requiredOption('--ssh-pubkey <file>')
    .option('--ttl <duration>', 'token lifetime', '1h')
    .option('--json', 'print {token, hostname, nonce, sshFingerprint, expiresAt} as JSON')
    .action(async (options, command) => {
      const outcome = await tokenMint(options, new Date());
      if (outcome.ok) return void process.stdout.write(outcome.stdout);
      const message = `nixfleet token mint: ${outcome.message}`;
      if (outcome.exitCode === EXIT_USAGE)
        command.error(message, { exitCode: EXIT_USAGE, code: outcome.code });
      throw new CliRuntimeError(outcome.code, `token mint: ${outcome.message}`);
    });

  for (const [name, what] of [
    ['status', 'Fleet summary'],
    ['hosts', 'Hosts and their rollout state'],
    ['rollouts', 'In-flight rollouts'],
  ] as const) {
    program
      .command(name)
      .description(what)
      .option('--json', 'print JSON only')
      .action(() => notYetAvailable(name, 5));
  }
  program
    .command('rollout <idOrAction> [id]')
    .description('Show a rollout, or `rollout pause|resume|abort ID`')
    .option('--json', 'print JSON only')
    .action(() => notYetAvailable('rollout', 5));
  program
    .command('events <rolloutId>')
    .option('--json', 'print JSON only')
    .action(() => notYetAvailable('events', 5));
  program
    .command('trace <host>')
    .option('--json', 'print JSON only')
    .action(() => notYetAvailable('trace', 5));
  program
    .command('db')
    .description('Database maintenance')
    .command('migrate')
    .description('Apply database migrations (the daemons also do it at start, under an advisory lock)')
    .addOption(
      new Option('--database-url <url>', 'PostgreSQL URL; absent: embedded PGlite in <data-dir>/pglite').env(
        'DATABASE_URL',
      ),
    )
    .addOption(
      new Option('--data-dir <dir>', 'control-plane data directory')
        .env('NIXFLEET_DATA_DIR')
        .default('/var/lib/nixfleet-cp'),
    )
    .action(async (opts) => {
      const { runDbMigrate } = await import('./db/migrate.ts');
      // An empty DATABASE_URL means "not set", not "connect to the libpq defaults".
      const databaseUrl = opts.databaseUrl === '' ? undefined : opts.databaseUrl;
      process.exitCode = await runDbMigrate({ databaseUrl, dataDir: opts.dataDir });
    });

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
    // An action may have set its own exit status (1 for a runtime failure).
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Asked for help or the version: success. Help shown because a subcommand was missing: usage error.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_OK;
      if (err.code === 'commander.help') return EXIT_USAGE;
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (err instanceof CliRuntimeError) {
      process.stderr.write(`nixfleet: ${err.message}\n`);
      return EXIT_RUNTIME;
    }
    throw err;
  }
}

export class CliRuntimeError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

process.exitCode = await main(process.argv.slice(2));
