// `nixfleet cp` configuration (contract §1-2, STYLE habit 3): flags > env > --config file > defaults,
// one zod schema, a frozen result, and usage errors that name the flag and where the value came from.
import { describe, expect, it } from 'vitest';
import { type CpConfig, parseListen, resolveCpConfig } from '../../cp/index.ts';

const files = (content: Record<string, string>) => async (path: string) => {
  const text = content[path];
  if (text === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
  return text;
};

async function resolve(
  flags: Record<string, unknown>,
  env: Record<string, string> = {},
  content: Record<string, string> = {},
) {
  return resolveCpConfig({ flags, env, readTextFile: files(content) });
}

async function ok(
  flags: Record<string, unknown>,
  env: Record<string, string> = {},
  content = {},
): Promise<CpConfig> {
  const r = await resolve(flags, env, content);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config;
}

const local = { releaseDir: '/srv/release', insecureHttp: true, listen: '127.0.0.1:0' };

describe('resolveCpConfig', () => {
  it('fills production defaults and freezes the result', async () => {
    const c = await ok(local);
    expect(c).toMatchObject({
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: '/var/lib/nixfleet-cp',
      trustFile: '/etc/nixfleet/cp/trust.json',
      planInterval: 15_000,
      longpollMaxWait: 60_000,
      releasePollInterval: 60_000,
      agentCertValidity: 30 * 86_400_000,
      logFormat: 'json',
    });
    expect(c.databaseUrl).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.listen)).toBe(true);
    expect(c.sources).toMatchObject({ listen: 'flag', planInterval: 'default' });
  });

  it('takes a flag over env over the config file over the default', async () => {
    const content = {
      '/etc/cp.yaml': 'plan-interval: 30s\nlongpollMaxWait: 20s\nrelease-poll-interval: 5m\n',
    };
    const c = await ok(
      { ...local, config: '/etc/cp.yaml', planInterval: '1s' },
      { NIXFLEET_PLAN_INTERVAL: '2s', NIXFLEET_LONGPOLL_MAX_WAIT: '10s' },
      content,
    );
    expect(c.planInterval).toBe(1_000);
    expect(c.longpollMaxWait).toBe(10_000);
    expect(c.releasePollInterval).toBe(300_000);
    expect(c.sources).toMatchObject({
      planInterval: 'flag',
      longpollMaxWait: 'env',
      releasePollInterval: 'file',
    });
  });

  it('reads DATABASE_URL, and treats an empty one as unset', async () => {
    expect((await ok(local, { DATABASE_URL: 'postgres://u@db/cp' })).databaseUrl).toBe('postgres://u@db/cp');
    expect((await ok(local, { DATABASE_URL: '' })).databaseUrl).toBeUndefined();
    expect(
      (await ok({ ...local, databaseUrl: 'postgresql://x@y/z' }, { DATABASE_URL: 'postgres://a@b/c' }))
        .databaseUrl,
    ).toBe('postgresql://x@y/z');
  });

  it('names the flag, and the variable or file a bad value came from', async () => {
    const bad = await resolve({ ...local, planInterval: 'soon' });
    expect(bad).toMatchObject({ ok: false, problems: [{ flag: '--plan-interval' }] });
    const fromEnv = await resolve(local, { NIXFLEET_LONGPOLL_MAX_WAIT: '60' });
    expect(fromEnv.ok).toBe(false);
    if (!fromEnv.ok) {
      expect(fromEnv.problems[0]?.flag).toBe('--longpoll-max-wait');
      expect(fromEnv.problems[0]?.message).toContain('NIXFLEET_LONGPOLL_MAX_WAIT');
    }
    const fromFile = await resolve(
      { releaseDir: '/r', insecureHttp: true, config: '/c.yaml' },
      {},
      { '/c.yaml': 'listen: nowhere\n' },
    );
    expect(fromFile).toMatchObject({ ok: false, problems: [{ flag: '--listen' }] });
    if (!fromFile.ok) expect(fromFile.problems[0]?.message).toContain('/c.yaml');
  });

  it('refuses --insecure-http unless --listen is loopback', async () => {
    const r = await resolve({ ...local, listen: '0.0.0.0:8080' });
    expect(r).toMatchObject({ ok: false, problems: [{ flag: '--insecure-http' }] });
    for (const listen of ['127.0.0.1:8080', '[::1]:8080', 'localhost:1']) {
      expect((await resolve({ ...local, listen })).ok).toBe(true);
    }
  });

  it('requires TLS material without --insecure-http, and the CA pair together', async () => {
    const r = await resolve({ releaseDir: '/r' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.map((p) => p.flag).sort()).toEqual(['--tls-cert', '--tls-key']);
    const half = await resolve({ ...local, caCert: '/ca.crt' });
    expect(half).toMatchObject({ ok: false, problems: [{ flag: '--ca-key' }] });
    const tls = await ok({ releaseDir: '/r', tlsCert: '/c', tlsKey: '/k', clientCa: '/ca' });
    expect(tls).toMatchObject({ insecureHttp: false, listen: { host: '0.0.0.0', port: 8080 } });
  });

  it('requires --release-dir and refuses a short agent certificate validity', async () => {
    const r = await resolve({ insecureHttp: true, listen: '127.0.0.1:1' });
    expect(r).toMatchObject({ ok: false, problems: [{ flag: '--release-dir', message: 'is required' }] });
    const short = await resolve({ ...local, agentCertValidity: '30s' });
    expect(short).toMatchObject({ ok: false, problems: [{ flag: '--agent-cert-validity' }] });
  });

  it('reports an unreadable or unknown-keyed config file as --config', async () => {
    expect(await resolve({ ...local, config: '/missing.yaml' })).toMatchObject({
      ok: false,
      problems: [{ flag: '--config', message: '/missing.yaml: no such file' }],
    });
    const unknown = await resolve({ ...local, config: '/c.yaml' }, {}, { '/c.yaml': 'lisen: 1\n' });
    expect(unknown).toMatchObject({ ok: false, problems: [{ flag: '--config' }] });
    const notYaml = await resolve({ ...local, config: '/c.yaml' }, {}, { '/c.yaml': 'a: [' });
    expect(notYaml).toMatchObject({ ok: false, problems: [{ flag: '--config' }] });
  });

  it('parses listen addresses', () => {
    expect(parseListen('0.0.0.0:8080')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(parseListen('[::1]:1')).toEqual({ host: '::1', port: 1 });
    for (const bad of ['8080', ':80', 'host:99999', '[x]:1', 'a:b']) expect(parseListen(bad)).toBeNull();
  });
});
