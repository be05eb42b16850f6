import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { PAT_API_VERSIONS } from '../shared/tokens/schemas.js';
import { expirationsCalendar } from '../shared/lifecycle/calendar.js';

/**
 * `GET /{organization}/_apis/tokens/pats/expirations.ics`: the caller's PAT and SSH key expiries as an
 * iCalendar feed a calendar app can subscribe to: a user token with vso.pats, or (for calendar apps,
 * which cannot obtain Entra tokens) a PAT, Basic or Bearer, with `vso.tokens`. PATs can never carry
 * vso.pats (a PAT cannot reach the PAT API), so the feed asks for the read-only "tokens" scope instead.
 */
export const patsExpirationsIcs = endpoint({
  name: 'pats-expirations-ics',
  route: '{organization}/_apis/tokens/pats/expirations.ics',
  location: { id: '66658652-c07a-4790-b64a-4167f085d79d', area: 'Tokens', resource: 'patExpirations' },
  methods: ['GET'],
  summary: "The caller's token and SSH key expiries as an iCalendar (RFC 5545) feed.",
  tags: ['PATs'],
  apiVersions: PAT_API_VERSIONS,
  access: {
    users: { scopes: ['vso.pats', 'vso.pats_manage'] },
    pats: { scopes: ['vso.tokens'] },
    organization: 'member',
    projectScopedUsers: 'allowed',
  },
  params: organizationParam,
  responses: { 200: { description: 'text/calendar', contentType: 'text/calendar' } },
  handler: async ({ app, caller, organization, request }) => ({
    text: await expirationsCalendar(app, caller.id, organization.organization, new URL(request.url).origin),
    contentType: 'text/calendar; charset=utf-8',
    headers: { 'Content-Disposition': 'inline; filename="expirations.ics"' },
  }),
});
