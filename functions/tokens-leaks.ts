import { z } from 'zod';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { enforceLeakRateLimit, leakReportBody, leakValidationCode, processLeakReport } from '../shared/tokens/leaks.js';
import { traceparentOf } from '../shared/telemetry/telemetry.js';

/** `POST /_apis/tokens/leaks`: anyone may report leaked tokens (no authentication, no per-token outcome). */
export const tokensLeaks = endpoint({
  name: 'tokens-leaks',
  route: '_apis/tokens/leaks',
  location: { id: 'af81da90-66f5-40f3-a7dd-f9bc18d49e55', area: 'Tokens', resource: 'leaks' },
  apiVersions: API_VERSIONS.service,
  methods: ['POST'],
  summary: 'Reports publicly exposed tokens (1–100 candidates); live ones are revoked unless the organization turned that off.',
  tags: ['Using tokens'],
  access: { anonymous: true },
  body: leakReportBody,
  validationCode: leakValidationCode,
  responses: {
    202: {
      description: 'Processed (live tokens revoked unless turned off) before this answer; it never says which candidates were tokens.',
      schema: z.object({ accepted: z.literal(true) }),
    },
  },
  handler: async ({ app, body, origin, context }) => {
    enforceLeakRateLimit(app, origin.ip);
    await processLeakReport(app, body, { ip: origin.ip, userAgent: origin.userAgent, traceparent: traceparentOf(context) });
    return { status: 202, body: { accepted: true } };
  },
});
