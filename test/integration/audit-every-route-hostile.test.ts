import { afterAll, beforeAll, describe, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { deliverAuditQueue } from '../helpers/queues.js';
import {
  declarationOf,
  expectAudited,
  maxLengthOf,
  prepareRouteSamples,
  samplesOf,
  STATE_CHANGING,
  stringPaths,
  VARIANTS,
  withValue,
} from '../helpers/audited-routes.js';

/**
 * The sample request of every state-changing route (test/helpers/audited-routes.ts) with each string
 * field of its body, one at a time, made hostile: lone surrogates, and the field's maximal length in
 * combining characters. Each call is refused with 4xx and nothing changed, or commits with exactly its
 * events, stored once; never a 5xx, never an event lost after its change committed.
 */

let env: TestEnvironment;

beforeAll(async () => {
  env = await startTestEnvironment({ now: '2026-05-04T10:00:00.000Z' });
  await prepareRouteSamples(env);
});

afterAll(async () => {
  await env?.stop();
});

describe('every string field made hostile, one at a time', () => {
  for (const key of STATE_CHANGING) {
    for (const sample of samplesOf(key)) {
      const label = sample.label ? `${key} (${sample.label})` : key;
      it(`${label}: is refused with nothing changed, or commits with exactly its events`, { timeout: 600_000 }, async () => {
        const declaration = declarationOf(key);
        // Fields without a limit of their own get what the body limit leaves room for (5 UTF-8 bytes per
        // 3 units of combining text), within the app's usual limit: a larger publish body says nothing new.
        const limit = Math.min(declaration?.maxBodyBytes?.() ?? Infinity, env.app.config.maxRequestBodyBytes);
        const fields = stringPaths((await sample.prepare()).body).length;
        await deliverAuditQueue(env);
        for (let field = 0; field < fields; field++) {
          for (const variant of VARIANTS) {
            const call = await sample.prepare();
            // Field names may hold the fresh names a call is prepared with (an npm publish's attachment).
            const path = stringPaths(call.body)[field]!;
            const room = Math.floor(((limit - JSON.stringify(call.body ?? '').length - 4096) * 3) / 5);
            const max = maxLengthOf(declaration, path) ?? room;
            const body = withValue(call.body, path, (current) => variant.apply(current, max));
            await expectAudited(sample, { ...call, body }, `${label} ${path.join('.') || '(body)'} ${variant.name}`, false);
          }
        }
      });
    }
  }
});
