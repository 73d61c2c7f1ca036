// The control plane process (spec §7.1, contract §2): database, actor runtime, release source,
// plan ticker, dispatch wake-ups and the HTTP app, started in dependency order and stopped in
// reverse. `createControlPlaneCore` is everything but the listener and the database's lifecycle
// (tests drive its app with `app.request()` on a database they own); `startControlPlane` opens and
// migrates the database, then serves the core over HTTPS (mTLS) or loopback HTTP.
import { mkdir, readFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type ServerType, serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { ActorRuntime, type Clock, PostgresSnapshotStore, systemClock } from '../actors/index.ts';
import { countPendingMigrations, type DatabaseHandle, migrateDatabase, openDatabase } from '../db/index.ts';
import { type CpAuth, createCpApp } from './app.ts';
import type { CpConfig } from './config.ts';
import {
  createDispatcher,
  createDispatchWakeups,
  type Dispatcher,
  type DispatchWakeups,
  listenForDispatches,
  type StopListening,
} from './dispatch/index.ts';
import { createCpApplier, RuntimeNotStartedError, runDeferredEffects } from './effects/index.ts';
import {
  createDbIssuanceStore,
  createEnrollmentService,
  type DeclaredHosts,
  type EnrollmentCa,
  type EnrollmentService,
  loadCa,
  orgRootKeysFromTrust,
} from './enrollment/index.ts';
import { createDbRevocationLookup, createIdentityMiddleware } from './identity/index.ts';
import type { Logger } from './logger.ts';
import { type CpMetrics, createCpMetrics } from './metrics.ts';
import { createPlanRunner, loadPlannerInput } from './planRunner.ts';
import { createPlanTicker, type PlanRunner, type PlanTicker } from './planTicker.ts';
import { createReleaseSource, type ReleaseSource } from './releaseSource/index.ts';
import type { Readiness } from './routes/health.ts';
import type { CpEnv } from './routes/shared.ts';

export const CP_VERSION = '0.1.0';

/** Spec §5.11: in-flight requests get this long to finish on shutdown. */
export const HTTP_DRAIN_MS = 25_000;

export interface ControlPlaneCoreOptions {
  handle: DatabaseHandle;
  clock?: Clock;
  logger: Logger;
  releaseDir: string;
  trustFile: string;
  /** `--release-poll-interval`, ms; 0 = poll only when asked (`releases.poll()`), for tests. */
  releasePollIntervalMs: number;
  /** `--plan-interval`, ms; 0 = tick only when asked. */
  planIntervalMs: number;
  longpollMaxWaitMs: number;
  auth: CpAuth;
  /** Whether migrations are applied (checked by the caller); `/readyz` reports it. */
  migrated?: boolean;
  /** The planner (spec §7.7, `createPlanRunner`); absent, ticks only record their time. */
  planner?: PlanRunner | undefined;
  enrollment?: (core: { releases: ReleaseSource }) => EnrollmentService | undefined;
  /** LISTEN for dispatches enqueued by other processes (default true). */
  listen?: boolean | undefined;
}

export interface ControlPlaneCore {
  readonly app: Hono<CpEnv>;
  readonly runtime: ActorRuntime;
  readonly dispatcher: Dispatcher;
  readonly wakeups: DispatchWakeups;
  readonly releases: ReleaseSource;
  readonly metrics: CpMetrics;
  readonly ticker: PlanTicker;
  readiness(): Readiness;
  /** Refuses new work (503), ends held long-polls, stops timers and the runtime. Idempotent. */
  stop(): Promise<void>;
  /** Flips readiness to draining without stopping anything yet. */
  drain(): void;
}

export async function createControlPlaneCore(options: ControlPlaneCoreOptions): Promise<ControlPlaneCore> {
  const clock = options.clock ?? systemClock;
  const { handle, logger } = options;
  const db = handle.db;
  const metrics = createCpMetrics({ version: CP_VERSION });
  let draining = false;
  let runtime: ActorRuntime | undefined;
  let stopping: Promise<void> | undefined;

  const wakeups = createDispatchWakeups(clock);
  const dispatcher = createDispatcher({ db, wakeups, clock, closing: () => draining });

  let ticker: PlanTicker | undefined;
  const releases = createReleaseSource({
    releaseDir: options.releaseDir,
    trustFile: options.trustFile,
    clock,
    onPublished: (r) => {
      metrics.releaseLoaded.set(1);
      metrics.releaseRefused.set(0);
      logger.info(
        {
          fleetResolvedHash: r.fleet.verified.sha256,
          signedAt: r.fleet.verified.signedAt,
          rollouts: [...r.manifests.keys()],
        },
        'verified release loaded',
      );
      // Spec §7.15: a new manifest set is planned at once, not at the next tick.
      ticker?.trigger('release');
    },
    onRefused: (refusal) => {
      metrics.releaseRefusals.inc({ code: refusal.code });
      metrics.releaseRefused.set(1);
      logger.warn(
        { code: refusal.code, file: refusal.file, detail: refusal.detail },
        'release refused; keeping the last verified set',
      );
    },
  });

  const applier = createCpApplier({
    db,
    clock,
    logger,
    runtime: () => runtime,
    onComplianceFailure: (controlId, host) => metrics.complianceFailures.inc({ control_id: controlId, host }),
    onQuarantine: (channel, closure) => logger.info({ channel, closure }, 'closure quarantined'),
    // A host finishing a step can open the next wave or free a budget slot: plan now (spec §7.15).
    onHostTransition: () => ticker?.trigger('host-transition'),
  });
  const onEffectError = (entry: { key: string; effect: { type: string } }, error: unknown) => {
    if (error instanceof RuntimeNotStartedError) return;
    logger.error(
      { key: entry.key, effect: entry.effect.type, err: error },
      'effect failed; it stays in the outbox',
    );
  };
  const store = new PostgresSnapshotStore(db);
  const started = await ActorRuntime.start({
    store,
    applyEffect: applier,
    clock,
    onEffectError,
    onRestoreFailure: (f) => logger.error(f, 'actor could not be restored and was quarantined'),
  });
  runtime = started;
  // Effects that needed the runtime itself (rollout events) while its outbox re-ran during start.
  await runDeferredEffects(store, applier, onEffectError);
  logger.info({ actors: started.size }, 'actor runtime started');

  let stopListening: StopListening | undefined;
  if (options.listen !== false) stopListening = await listenForDispatches(handle, wakeups);

  // Prime before the listener opens (spec §7.10 "startup"), then poll on the interval.
  await releases.poll();
  if (options.releasePollIntervalMs > 0) releases.start(options.releasePollIntervalMs);

  ticker = createPlanTicker({
    clock,
    intervalMs: options.planIntervalMs,
    logger,
    run: async () => {
      const r = releases.current();
      const rt = runtime;
      // Spec §7.7 step 1: no manifests → nothing to plan (cold start).
      if (options.planner === undefined || r === undefined || rt === undefined || draining) return 'skipped';
      await options.planner.tick({
        db,
        runtime: rt,
        release: r,
        dispatcher,
        now: clock.now(),
        metrics,
        logger,
      });
      return 'planned';
    },
    onOutcome: (outcome) => metrics.planTicks.inc({ outcome }),
  });
  ticker.start();
  // The first plan runs at once (spec §7.15), not one interval after start.
  ticker.trigger('start');

  const readiness = (): Readiness => {
    if (draining) return { ready: false, reason: 'draining: the control plane is shutting down' };
    if (options.migrated === false) return { ready: false, reason: 'database migrations are not applied' };
    if (runtime === undefined) return { ready: false, reason: 'starting' };
    if (releases.current() === undefined) {
      const refusal = releases.lastRefusal();
      return {
        ready: false,
        reason:
          refusal === undefined
            ? 'awaiting first signed artifact'
            : `awaiting first signed artifact: ${refusal.file}: ${refusal.code}: ${refusal.detail}`,
      };
    }
    return { ready: true };
  };

  const app = createCpApp({
    version: CP_VERSION,
    auth: options.auth,
    runtime: () => (draining ? undefined : runtime),
    dispatcher,
    release: () => releases.current(),
    lastRefusal: () => releases.lastRefusal(),
    readiness,
    metrics,
    renderMetrics: async () => {
      await metrics.refresh(db, releases.current(), clock.now());
      return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
    },
    longpollMaxWaitMs: options.longpollMaxWaitMs,
    lastTickAt: () => ticker?.lastTickAt() ?? null,
    enrollment: options.enrollment?.({ releases }),
    clock: () => clock.now(),
    db,
    plannerInput: async () => {
      const release = releases.current();
      const rt = runtime;
      if (release === undefined || rt === undefined) return undefined;
      return loadPlannerInput({ db, runtime: rt, release, dispatcher, now: clock.now(), metrics, logger });
    },
    onError: (error, route) => logger.error({ err: error, route }, 'request failed'),
  });

  const drain = () => {
    draining = true;
    // Held long-polls re-check the queue once and answer (spec §5.6: 204 on shutdown).
    wakeups.wakeAll();
  };

  return {
    app,
    runtime: started,
    dispatcher,
    wakeups,
    releases,
    metrics,
    ticker,
    readiness,
    drain,
    stop() {
      stopping ??= (async () => {
        drain();
        await ticker?.stop();
        await releases.stop();
        await stopListening?.();
        await started.stop();
        runtime = undefined;
      })();
      return stopping;
    },
  };
}

export interface ControlPlane {
  readonly core: ControlPlaneCore;
  readonly handle: DatabaseHandle;
  /** `http://127.0.0.1:<port>` or `https://…`: the bound address (port 0 resolved). */
  readonly url: string;
  readonly address: AddressInfo;
  stop(): Promise<void>;
}

/** A start-up failure the operator fixes in the invocation: exit 2, naming the flag. */
export class CpStartupError extends Error {
  readonly flag: string;
  constructor(flag: string, message: string) {
    super(message);
    this.name = 'CpStartupError';
    this.flag = flag;
  }
}

async function readFlagFile(flag: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new CpStartupError(flag, `${path}: ${code === 'ENOENT' ? 'no such file' : String(err)}`);
  }
}

export interface StartControlPlaneOptions {
  clock?: Clock;
  logger: Logger;
  planner?: PlanRunner | undefined;
}

/** Opens and migrates the database, starts the core and listens. */
export async function startControlPlane(
  config: CpConfig,
  options: StartControlPlaneOptions,
): Promise<ControlPlane> {
  const { logger } = options;
  const clock = options.clock ?? systemClock;

  // TLS material and the CA are read before anything opens, so a bad path is exit 2, not a half start.
  let tls: { key: string; cert: string; ca?: string } | undefined;
  if (!config.insecureHttp) {
    tls = {
      key: await readFlagFile('--tls-key', config.tlsKey ?? ''),
      cert: await readFlagFile('--tls-cert', config.tlsCert ?? ''),
    };
    if (config.clientCa !== undefined) tls.ca = await readFlagFile('--client-ca', config.clientCa);
  }
  let ca: EnrollmentCa | undefined;
  if (config.caCert !== undefined && config.caKey !== undefined) {
    const loaded = loadCa({
      certPem: await readFlagFile('--ca-cert', config.caCert),
      keyPem: await readFlagFile('--ca-key', config.caKey),
    });
    if (!loaded.ok) throw new CpStartupError('--ca-cert', loaded.error.message);
    ca = loaded.ca;
  }

  if (config.databaseUrl === undefined) {
    // PGlite creates its own directory but not the parents: a fresh --data-dir must just work.
    await mkdir(join(config.dataDir, 'pglite'), { recursive: true });
  }
  const handle = await openDatabase(
    config.databaseUrl !== undefined
      ? {
          url: config.databaseUrl,
          applicationName: `nixfleet-cp${config.replicaId === undefined ? '' : `-${config.replicaId}`}`,
        }
      : { dataDir: join(config.dataDir, 'pglite') },
  );
  let core: ControlPlaneCore | undefined;
  let server: ServerType | undefined;
  try {
    // Under the advisory lock (db/migrate.ts): replicas starting together do not race.
    await migrateDatabase(handle);
    const migrated = (await countPendingMigrations(handle.db)) === 0;
    logger.info({ database: handle.kind, migrated }, 'database ready');

    const auth: CpAuth = config.insecureHttp
      ? { mode: 'insecure' }
      : {
          mode: 'mtls',
          requireIdentity: createIdentityMiddleware({
            revocations: createDbRevocationLookup(handle.db),
            cnSuffix: config.agentCnSuffix,
          }),
        };
    core = await createControlPlaneCore({
      handle,
      clock,
      logger,
      releaseDir: config.releaseDir,
      trustFile: config.trustFile,
      releasePollIntervalMs: config.releasePollInterval,
      planIntervalMs: config.planInterval,
      longpollMaxWaitMs: config.longpollMaxWait,
      auth,
      migrated,
      planner: options.planner ?? createPlanRunner(),
      enrollment: ({ releases }) =>
        createEnrollmentService({
          store: createDbIssuanceStore(handle.db),
          declaredHosts: (): DeclaredHosts | undefined => {
            const fleet = releases.current()?.fleet.verified.inner;
            if (fleet === undefined) return undefined;
            return {
              lookup: (hostname) => {
                const host = fleet.hosts[hostname];
                return host === undefined ? undefined : { sshPubkey: host.pubkey ?? '' };
              },
            };
          },
          orgRootKeys: orgRootKeysFromTrust(() => releases.trust()),
          ca: () => ca,
          agentCertValidityMs: config.agentCertValidity,
          cnSuffix: config.agentCnSuffix,
          clock: () => clock.now(),
        }),
    });

    const app = core.app;
    server = await new Promise<ServerType>((resolve, reject) => {
      const s = serve(
        {
          fetch: app.fetch,
          hostname: config.listen.host,
          port: config.listen.port,
          ...(tls === undefined
            ? {}
            : {
                createServer: createHttpsServer,
                serverOptions: {
                  key: tls.key,
                  cert: tls.cert,
                  ...(tls.ca === undefined
                    ? {}
                    : {
                        ca: tls.ca,
                        requestCert: true,
                        // Anonymous /v1/enroll shares the port; require_cn checks `authorized` itself.
                        rejectUnauthorized: false,
                      }),
                },
              }),
        },
        () => resolve(s),
      );
      s.once('error', reject);
    });
  } catch (err) {
    await core?.stop().catch(() => undefined);
    await handle.close().catch(() => undefined);
    throw err;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${tls === undefined ? 'http' : 'https'}://${host}:${address.port}`;
  logger.info({ url, insecureHttp: config.insecureHttp, mtls: tls?.ca !== undefined }, 'listening');

  const started = core;
  const listening = server;
  let stopping: Promise<void> | undefined;
  return {
    core: started,
    handle,
    url,
    address,
    stop() {
      stopping ??= (async () => {
        // Readiness flips first so load balancers stop sending; held polls answer 204 right away.
        started.drain();
        await closeServer(listening, HTTP_DRAIN_MS, clock);
        await started.stop();
        await handle.close();
        logger.info({}, 'stopped');
      })();
      return stopping;
    },
  };
}

/** `server.close()` waits for in-flight requests; after `drainMs` the rest are cut (spec §5.11). */
function closeServer(server: ServerType, drainMs: number, clock: Clock): Promise<void> {
  const s = server as ServerType & { closeIdleConnections?: () => void; closeAllConnections?: () => void };
  return new Promise<void>((resolve) => {
    const timer = clock.setTimeout(() => s.closeAllConnections?.(), drainMs);
    s.close(() => {
      clock.clearTimeout(timer);
      resolve();
    });
    s.closeIdleConnections?.();
  });
}
