import { USER_SCOPES } from '../shared/auth/scopes.js';
import { z } from 'zod';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { AUDIT_ACTION_LIST } from '../shared/audit/actions.js';

const query = z.object({ areaName: z.string().max(64).optional() });
const actionInfo = z.object({ actionId: z.string(), area: z.string(), category: z.string() });
const responses = { 200: { description: 'The actions Gatehouse records.', schema: z.object({ count: z.number(), value: z.array(actionInfo) }) } };

function listActions(areaName: string | undefined) {
  const value = AUDIT_ACTION_LIST.filter((action) => !areaName || action.area.toLowerCase() === areaName.toLowerCase()).map(({ actionId, area, category }) => ({
    actionId,
    area,
    category,
  }));
  return { body: { count: value.length, value } };
}

export const auditActionsList = endpoint({
  name: 'audit-actions-list',
  route: '{organization}/_apis/audit/actions',
  location: { id: '6fa30b9a-9558-4e3b-a95f-a12572caa6e6', area: 'audit', resource: 'actions' },
  methods: ['GET'],
  summary: 'Lists the audit actions Gatehouse records, with area and category (members).',
  tags: ['Audit'],
  apiVersions: API_VERSIONS.audit,
  access: { users: { scopes: USER_SCOPES.auditLog }, apps: { roles: [] }, organization: 'member', pats: { scopes: ['vso.auditlog'] } },
  params: organizationParam,
  query,
  responses,
  handler: async ({ query }) => listActions(query.areaName),
});

export const auditActionsListGlobal = endpoint({
  name: 'audit-actions-list-global',
  route: '_apis/audit/actions',
  location: { id: '6fa30b9a-9558-4e3b-a95f-a12572caa6e6', area: 'audit', resource: 'actions' },
  methods: ['GET'],
  summary: 'Lists the audit actions Gatehouse records, with area and category (any signed-in caller).',
  tags: ['Audit'],
  apiVersions: API_VERSIONS.audit,
  access: { users: { scopes: USER_SCOPES.auditLog }, apps: { roles: [] } },
  query,
  responses,
  handler: async ({ query }) => listActions(query.areaName),
});
