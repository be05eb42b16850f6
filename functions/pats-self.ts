import { z } from 'zod';
import { noRequestBody } from '../shared/http/body-rules.js';
import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { idempotencyKeyOf, MAX_GRACE_MINUTES, rotatePat } from '../shared/tokens/rotation.js';
import { PAT_API_VERSIONS, patTokenResultSchema, patValidationCode } from '../shared/tokens/schemas.js';
import { lookupSelf, patSelfSchema } from '../shared/tokens/self.js';

export const gracePeriodQuery = z.object({
  gracePeriodMinutes: z.coerce
    .number()
    .int()
    .min(0)
    .max(MAX_GRACE_MINUTES)
    .default(0)
    .describe(`How long the old secret keeps working (0–${MAX_GRACE_MINUTES} minutes, default 0).`),
});

/** `GET /{organization}/_apis/tokens/pats/self`: the PAT looks itself up. */
export const patsSelf = endpoint({
  name: 'pats-self',
  route: '{organization}/_apis/tokens/pats/self',
  location: { id: '2f7fc8f1-e814-445d-9a90-bdb9117dbddd', area: 'Tokens', resource: 'patSelf' },
  methods: ['GET'],
  summary: 'Self lookup by the PAT itself: metadata, days left, policy compliance and a rotation hint.',
  tags: ['Using tokens'],
  apiVersions: PAT_API_VERSIONS,
  access: { pats: { scopes: [], policies: 'report' }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  responses: { 200: { description: 'The PAT as it sees itself.', schema: patSelfSchema } },
  handler: async ({ app, caller }) => ({ body: await lookupSelf(app, caller) }),
});

/** `POST /{organization}/_apis/tokens/pats/self/rotate`: the PAT rotates itself. */
export const patsSelfRotate = endpoint({
  name: 'pats-self-rotate',
  route: '{organization}/_apis/tokens/pats/self/rotate',
  location: { id: '2fe1a55d-3cc5-4584-8503-147e13c4ebb1', area: 'Tokens', resource: 'patSelfRotations' },
  methods: ['POST'],
  summary: 'Rotates the calling PAT: a new secret (same name, scopes, targets), the old one works for gracePeriodMinutes.',
  tags: ['Using tokens'],
  apiVersions: PAT_API_VERSIONS,
  access: { pats: { scopes: [], policies: 'report' }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  query: gracePeriodQuery,
  body: noRequestBody,
  errorEnvelope: 'patTokenResult',
  validationCode: (where, issue) => (issue.path[0] === 'gracePeriodMinutes' ? 'invalidGracePeriod' : patValidationCode(where, issue)),
  responses: { 200: { description: 'PatTokenResult with the new token (and its secret), as create returns it.', schema: patTokenResultSchema } },
  handler: async ({ app, caller: pat, organization, query, request, audit }) => {
    const idempotencyKey = idempotencyKeyOf(request.headers.get('idempotency-key'));
    const patToken = await rotatePat(app, {
      organization: organization.organization,
      audit: audit,
      ownerId: pat.id,
      owner: { displayName: pat.displayName, email: pat.email, tenantId: pat.tenantId },
      authorizationId: pat.authorizationId,
      gracePeriodMinutes: query.gracePeriodMinutes,
      idempotencyKey,
      mayExtend: false,
    });
    return { body: { patToken, patTokenError: 'none' } };
  },
});
