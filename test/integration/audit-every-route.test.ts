import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { callJson } from '../helpers/http.js';
import { declarations } from '../../functions/declarations.js';
import {
  expectAudited,
  inDays,
  measure,
  NO_EVENT,
  prepareRouteSamples,
  SAMPLES,
  samplesOf,
  sshKeyLine,
  STATE_CHANGING,
  tokens,
} from '../helpers/audited-routes.js';

/**
 * Every route that changes state, called over HTTP with its sample request (test/helpers/audited-routes.ts):
 * a successful call stores exactly the events the sample names, each catalogued, with its template's
 * data; nothing else changes without an event. A new state-changing route fails the first test until
 * it gets a sample, or a reason to store no event. audit-every-route-hostile.test.ts makes each
 * string field of the samples hostile.
 */

let env: TestEnvironment;

/** Functions without a route, and where their changes are audited. */
const NOT_HTTP: Readonly<Record<string, string>> = {
  'lifecycle timer': 'expiry (Token.PatExpiredEvent, Token.SshExpireEvent) through the outbox; test/integration/lifecycle.test.ts',
  'grant-review timer': 'review outcomes (Pipelines.FreeGrant*) through the outbox; test/integration/pipeline-grants.test.ts',
  'audit-retention timer': 'deletes days of the audit log past their retention: the log itself, not a change to audit',
  'audit-writer queue': 'stores the events',
  'notification-sender queue': 'puts notices into inboxes: the notices of changes already audited',
  'webhook-sender queue': 'delivers those notices to the organization’s webhook',
};

beforeAll(async () => {
  env = await startTestEnvironment({ now: '2026-05-04T10:00:00.000Z' });
  await prepareRouteSamples(env);
});

afterAll(async () => {
  await env?.stop();
});

describe('every state-changing route', () => {
  it('has a sample request, or a reason to store no event', () => {
    const missing = STATE_CHANGING.filter((key) => samplesOf(key).length === 0 && !(key in NO_EVENT));
    expect(missing, 'state-changing routes with neither a sample nor a reason').toEqual([]);
    const stale = [...Object.keys(SAMPLES), ...Object.keys(NO_EVENT)].filter((key) => !STATE_CHANGING.includes(key));
    expect(stale, 'samples or reasons for routes that do not exist').toEqual([]);
    expect(
      Object.keys(SAMPLES).filter((key) => key in NO_EVENT),
      'both a sample and a reason',
    ).toEqual([]);
  });

  it('are all the HTTP functions: queue and timer functions change state only through code the routes share', () => {
    const other = declarations.filter((declaration) => declaration.kind !== 'http').map((declaration) => `${declaration.name} ${declaration.kind}`);
    expect(
      other.filter((key) => !(key in NOT_HTTP)),
      'queue or timer functions without a reason',
    ).toEqual([]);
    expect(Object.keys(NOT_HTTP).filter((key) => !other.includes(key))).toEqual([]);
  });

  it('are measured so that a change without an event shows', async () => {
    // The SSH key lookup records a key's last use: a change, with (deliberately) no event.
    const line = sshKeyLine();
    const added = await callJson(env, 'POST', '/contoso/_apis/tokens/sshkeys?api-version=7.1-preview.1', {
      token: await tokens.alice(),
      body: { displayName: 'measured', publicData: line, validTo: inDays(30) },
    });
    expect(added.status, added.text).toBe(200);
    const { reply, events, changed } = await measure({
      method: 'POST',
      path: '/_apis/tokens/sshkeys/lookup?api-version=7.1-preview.1',
      token: await env.appToken('gitserver'),
      body: { publicKey: line },
    });
    expect(reply.status, reply.text).toBe(200);
    expect(events).toEqual([]);
    expect(changed.some((key) => key.startsWith('sshkeys|'))).toBe(true);
  });

  for (const key of STATE_CHANGING) {
    for (const sample of samplesOf(key)) {
      const label = sample.label ? `${key} (${sample.label})` : key;
      it(`${label}: stores exactly its events`, async () => {
        await expectAudited(sample, await sample.prepare(), label, true);
      });
    }
  }
});
