import { z } from 'zod';
import { endpoint } from '../shared/http/endpoint.js';
import { checkStorage } from '../shared/storage/health.js';

export const health = endpoint({
  name: 'health',
  route: 'health',
  methods: ['GET'],
  summary: 'Liveness and storage reachability; no authentication.',
  tags: ['Service'],
  access: { anonymous: true },
  responses: {
    200: { description: 'Storage answers.', schema: z.object({ status: z.literal('healthy') }) },
    503: { description: 'Storage does not answer.', schema: z.object({ status: z.literal('unhealthy') }) },
  },
  handler: async ({ app }) => ((await checkStorage(app.storage)) ? { body: { status: 'healthy' } } : { status: 503, body: { status: 'unhealthy' } }),
});
