import autocannon from 'autocannon';
import { benchUserToken, fmt, percentile, round, sleep } from '../lib.js';
import { expectStatus, startGatehouse, withAzurite, withProxy, type Scenario, type ScenarioContext } from './common.js';

/**
 * P7: revocation propagation across three instances. Three Gatehouse processes share one Azurite
 * (through the counting proxy). Under P1-style load on B and C (autocannon, a PAT of its own), each
 * round creates a PAT on A, uses it once on B and on C (so both cache it), revokes it on A and times
 * how long after A answered the revoke B and C first refuse it. The goal is on the p99 of the slower
 * of the two. The cost: storage requests on the `changes` table per instance per second, idle.
 */

const PATS = '/contoso/_apis/tokens/pats?api-version=7.1-preview.1';

async function createPat(url: string, token: string, name: string): Promise<{ token: string; authorizationId: string }> {
  const created = await expectStatus(
    await fetch(`${url}${PATS}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ displayName: name, scope: 'vso.profile', validTo: new Date(Date.now() + 7 * 86_400_000).toISOString(), allOrgs: false }),
    }),
    200,
    'creating a P7 PAT',
  );
  return ((await created.json()) as { patToken: { token: string; authorizationId: string } }).patToken;
}

const use = async (url: string, pat: string) => {
  const response = await fetch(`${url}/contoso/_apis/connectionData`, { headers: { authorization: `Basic ${Buffer.from(`:${pat}`).toString('base64')}` } });
  await response.arrayBuffer();
  return response.status;
};

async function firstRefusal(url: string, pat: string, since: number, limitMs: number): Promise<number> {
  while (Date.now() - since < limitMs) {
    if ((await use(url, pat)) === 401) return Date.now() - since;
    await sleep(5);
  }
  return Number.POSITIVE_INFINITY;
}

async function measure(ctx: ScenarioContext) {
  return withAzurite(async (azurite) =>
    withProxy(azurite, async (proxy) => {
      // Every round ends in 401s on B and C (the revoked PAT, polled until refused): from one client
      // address that would spend the failed-authentication budget within a minute and turn every
      // later attempt into a 429. Lifted here, since propagation is what is measured.
      const settings = { RATE_LIMIT_AUTH_FAILURES_PER_ADDRESS_PER_MINUTE: '0' };
      const a = await startGatehouse(ctx, proxy.connectionString, settings);
      const unseeded = () => startGatehouse(ctx, proxy.connectionString, { ...settings, BENCH_SEED: '0' });
      const [b, c] = await Promise.all([unseeded(), unseeded()]);
      try {
        const token = await benchUserToken(ctx.secrets);
        // Cost of the mechanism, idle: requests to the changes table per instance per second.
        await sleep(1000);
        await proxy.reset();
        const idleSeconds = ctx.quick ? 3 : 6;
        await sleep(idleSeconds * 1000);
        const feedRequests = Object.values(await proxy.changeFeedCounts()).reduce((sum, n) => sum + n, 0);
        const readsPerInstancePerSecond = feedRequests / 3 / idleSeconds;

        // P1-style load on B and C for the whole measurement.
        const loadPat = await createPat(a.url, token, 'bench-p7-load');
        const basic = { authorization: `Basic ${Buffer.from(`:${loadPat.token}`).toString('base64')}` };
        const rounds = ctx.quick ? 20 : 200;
        const loads = [b, c].map((instance) =>
          autocannon({ url: `${instance.url}/contoso/_apis/connectionData`, headers: basic, connections: 8, duration: 3600, timeout: 10 }),
        );
        const delays: number[] = [];
        try {
          for (let i = 0; i < rounds; i++) {
            const pat = await createPat(a.url, token, `bench-p7-${i}`);
            for (const instance of [b, c]) {
              const status = await use(instance.url, pat.token);
              if (status !== 200) throw new Error(`P7: a new PAT was refused (${status}) in round ${i + 1}`);
            }
            await expectStatus(
              await fetch(`${a.url}${PATS}&authorizationId=${pat.authorizationId}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } }),
              204,
              'revoking a P7 PAT',
            );
            const answeredAt = Date.now();
            const [onB, onC] = await Promise.all([firstRefusal(b.url, pat.token, answeredAt, 10_000), firstRefusal(c.url, pat.token, answeredAt, 10_000)]);
            delays.push(Math.max(onB, onC));
          }
        } finally {
          for (const running of loads) (running as unknown as { stop(): void }).stop();
          await Promise.allSettled(loads);
        }
        return { rounds, delays, readsPerInstancePerSecond, feedRequests, idleSeconds };
      } finally {
        await Promise.all([a, b, c].map((child) => child.stop()));
      }
    }),
  );
}

export const propagationScenario: Scenario = async (ctx) => {
  const m = await measure(ctx);
  const p50 = percentile(m.delays, 50);
  const p99 = percentile(m.delays, 99);
  const max = Math.max(...m.delays);
  return {
    rows: [
      {
        id: 'P7',
        scenario: `P7 revoke on A → first 401 on B and C, 3 instances under load, ${m.rounds} revocations: p50 / p99`,
        gatehouse: `${fmt(p50, '', 0)} / ${fmt(p99, 'ms', 0)}`,
        baseline: '1000 ms',
        ratio: '',
        goal: 'p99 ≤ 1 s',
        met: p99 <= 1000,
        note: `slowest ${fmt(max, 'ms', 0)}`,
      },
      {
        id: 'P7',
        scenario: 'P7 change feed cost: storage reads per instance per second (idle)',
        gatehouse: fmt(m.readsPerInstancePerSecond, '', 2),
        baseline: '',
        ratio: '',
        goal: 'info',
        met: null,
      },
    ],
    data: {
      rounds: m.rounds,
      p50Ms: round(p50),
      p99Ms: round(p99),
      maxMs: round(max),
      feedReadsPerInstancePerSecond: round(m.readsPerInstancePerSecond),
      idleSeconds: m.idleSeconds,
    },
  };
};
