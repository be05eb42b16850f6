import { endpoint } from '../shared/http/endpoint.js';
import { noRequestBody } from '../shared/http/body-rules.js';
import { organizationParam } from '../shared/http/params.js';
import { idempotencyKeyOf, rotatePat } from '../shared/tokens/rotation.js';
import { PAT_API_VERSIONS, guidSchema, patTokenResultSchema, patValidationCode } from '../shared/tokens/schemas.js';
import { ownerIdentityOf, patContextOf } from '../shared/tokens/service.js';
import { gracePeriodQuery } from './pats-self.js';

/** `POST /{organization}/_apis/tokens/pats/rotate?authorizationId=`: the owner rotates a PAT (user token only). */
export const patsRotate = endpoint({
  name: 'pats-rotate',
  route: '{organization}/_apis/tokens/pats/rotate',
  location: { id: '72847d64-9d7c-4594-92a4-25eef3729ce9', area: 'Tokens', resource: 'patRotations' },
  methods: ['POST'],
  summary: "Rotates one of the caller's PATs: a new secret (same name, scopes, targets), the old one works for gracePeriodMinutes.",
  tags: ['PATs'],
  apiVersions: PAT_API_VERSIONS,
  access: { users: { scopes: ['vso.pats_manage'] }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  query: gracePeriodQuery.extend({ authorizationId: guidSchema }),
  body: noRequestBody,
  errorEnvelope: 'patTokenResult',
  validationCode: (where, issue) => (issue.path[0] === 'gracePeriodMinutes' ? 'invalidGracePeriod' : patValidationCode(where, issue)),
  responses: { 200: { description: 'PatTokenResult with the new token (and its secret), as create returns it.', schema: patTokenResultSchema } },
  handler: async (input) => {
    const context = patContextOf(input);
    const idempotencyKey = idempotencyKeyOf(input.request.headers.get('idempotency-key'));
    const patToken = await rotatePat(input.app, {
      organization: context.organization,
      audit: context.audit,
      ownerId: context.caller.id,
      owner: ownerIdentityOf(context.caller),
      authorizationId: input.query.authorizationId,
      gracePeriodMinutes: input.query.gracePeriodMinutes,
      idempotencyKey,
      mayExtend: true,
    });
    return { body: { patToken, patTokenError: 'none' } };
  },
});
