import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import sshpk from 'sshpk';
import { z } from 'zod';
import { expect } from 'vitest';
import { declarations } from '../../functions/declarations.js';
import { AUDIT_ACTIONS, TEMPLATE_PLACEHOLDER, type AuditActionId } from '../../shared/audit/actions.js';
import { OUTBOX_ROW_PREFIX } from '../../shared/audit/outbox.js';
import { EVENT_PREFIX, readRowData, type AuditRow } from '../../shared/audit/repository.js';
import type { HttpDeclaration } from '../../shared/runtime/declarations.js';
import { TABLES } from '../../shared/storage/names.js';
import { FABRIKAM_TENANT_ID, DEMO_TENANT_ID } from '../../local/demo-data.js';
import type { TestEnvironment } from './environment.js';
import { callJson, createPat, type JsonReply } from './http.js';
import { deliverAuditQueue, poisonedAuditMessages } from './queues.js';
import { ALICE, CONTOSO } from './demo.js';

/**
 * A sample request for every route that changes state, and the measurement of one call: what it
 * stored in the audit log and what else it changed (test/integration/audit-every-route*.test.ts).
 *
 * The rules a call keeps (expectAudited): a successful call stores exactly the events its sample
 * names (one, unless the sample documents more), each a catalogued action with its catalogue area
 * and category and every data key of its details template; a refused call (4xx) stores no event and
 * changes nothing. An event is stored if and only if its change committed: no answer is a 5xx, no
 * outbox row is left behind, nothing reaches the poison queue.
 */

let env: TestEnvironment;
const V = 'api-version=7.1';
const PREVIEW = 'api-version=7.1-preview.1';
let counter = 0;
const uid = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(++counter).toString(36)}`;

/** What a sample sends. */
export interface Call {
  readonly method: string;
  readonly path: string;
  readonly token?: string;
  readonly authorization?: string;
  readonly body?: unknown;
}

export interface Sample {
  /** What it shows, when a route has several samples. */
  readonly label?: string;
  readonly status: number;
  /** Sets up what the call needs, anew each time (so every call is a real change), and answers the call. */
  readonly prepare: () => Promise<Call>;
  /**
   * The actions one successful call stores, in any order. More than one only where the route
   * documents it; none only where the call, as sent, changes nothing.
   */
  readonly events: readonly AuditActionId[] | ((call: Call) => Promise<readonly AuditActionId[]>);
}

/** State-changing routes that deliberately store no event, each with its reason. */
export const NO_EVENT: Readonly<Record<string, string>> = {
  'portal HEAD': 'a safe method: the portal’s static pages',
  'portal-user-settings HEAD': 'a safe method: a portal page',
  'portal-organization-settings HEAD': 'a safe method: a portal page',
  'locations-organization OPTIONS': 'resource discovery (Azure DevOps’ OPTIONS _apis): a read',
  'locations-organization-area OPTIONS': 'resource discovery: a read',
  'locations-deployment OPTIONS': 'resource discovery: a read',
  'locations-deployment-area OPTIONS': 'resource discovery: a read',
  'tokens-introspect POST': 'RFC 7662 introspection: a read that answers a token’s facts (the body carries the token)',
  'token-policies-preview POST': 'a read: which existing tokens a policy document would refuse, nothing saved',
  'sshkeys-lookup POST': 'a read (the body carries the key); it records the key’s last use, which, as for tokens, is usage and not an audit event',
  'notifications-mark-read PATCH': 'the caller’s own inbox flag: no organization state (Azure DevOps does not audit notification reads either)',
  'notifications-mark-read POST': 'the same as PATCH',
  'not-found POST': 'answers 404 to any path',
  'not-found PUT': 'answers 404 to any path',
  'not-found PATCH': 'answers 404 to any path',
  'not-found DELETE': 'answers 404 to any path',
  'not-found HEAD': 'answers 404 to any path',
  'not-found OPTIONS': 'answers 404 to any path',
};

export const httpDeclarations = declarations.filter((declaration): declaration is HttpDeclaration => declaration.kind === 'http');
/** Every route and method that is not a plain GET, as `<function name> <METHOD>`. */
export const STATE_CHANGING = httpDeclarations.flatMap((declaration) =>
  declaration.options.methods.filter((method) => method !== 'GET').map((method) => `${declaration.name} ${method}`),
);

// ---- fixtures --------------------------------------------------------------------------------------

export const tokens = {
  alice: () => env.userToken('alice@contoso.com'),
  tina: () => env.userToken('tina@contoso.com'),
  erin: () => env.userToken('erin@fabrikam.com'),
  packaging: () => env.userToken('alice@contoso.com', { scopes: ['vso.packaging_manage'] }),
  operator: () =>
    env.userToken('olivia@ops.gatehouse.example', {
      userId: '0ae7a70e-0000-4000-8000-0000000000a1',
      displayName: 'Olivia Operator',
      roles: ['Gatehouse.Operator'],
    }),
};

let guestOrganization: string;
let settingsOrganization: string;
let webProjectId: string;

async function ok(reply: Promise<JsonReply> | JsonReply, status: number): Promise<JsonReply> {
  const answer = await reply;
  expect(answer.status, answer.text).toBe(status);
  return answer;
}

async function newOrganization(creator: string, name = uid('org')): Promise<string> {
  await ok(callJson(env, 'POST', `/_apis/organizations?${V}`, { token: await env.userToken(creator), body: { name } }), 201);
  return name;
}

/** A person known to the directory (not a member of anything yet). */
async function newPerson(tenantId = DEMO_TENANT_ID): Promise<{ id: string; email: string; displayName: string }> {
  const person = {
    id: randomUUID(),
    email: `${uid('person')}@${tenantId === DEMO_TENANT_ID ? 'contoso.com' : 'fabrikam.com'}`,
    displayName: 'New Person',
    tenantId,
  };
  await env.app.directory.saveUser(person);
  return person;
}

async function newMember(organization = 'contoso') {
  const person = await newPerson();
  await ok(
    callJson(env, 'POST', `/${organization}/_apis/userentitlements?${V}`, { token: await tokens.alice(), body: { user: { principalName: person.email } } }),
    201,
  );
  return person;
}

export const inDays = (days: number) => new Date(env.clock.now().getTime() + days * 86_400_000).toISOString();

export function sshKeyLine(comment = 'laptop'): string {
  const pem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
  return `${sshpk.parseKey(pem, 'pem').toString('ssh').split(' ').slice(0, 2).join(' ')} ${comment}`;
}

async function newSshKey(): Promise<string> {
  const reply = await ok(
    callJson(env, 'POST', `/contoso/_apis/tokens/sshkeys?${PREVIEW}`, {
      token: await tokens.alice(),
      body: { displayName: uid('key'), publicData: sshKeyLine(), validTo: inDays(30) },
    }),
    200,
  );
  return reply.body.sshKey.authorizationId as string;
}

/** The document `npm publish` sends, for a gzip "tarball" of its own. */
function publishDocument(name: string, version = '1.0.0') {
  const tarball = gzipSync(Buffer.from(`${name}@${version} ${randomUUID()}`));
  const shasum = createHash('sha1').update(tarball).digest('hex');
  const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
  return {
    _id: name,
    name,
    description: 'a package',
    'dist-tags': { latest: version },
    versions: {
      [version]: {
        name,
        version,
        _id: `${name}@${version}`,
        description: 'a package',
        readme: '# readme',
        dist: { shasum, integrity, tarball: `http://example.invalid/${name}.tgz` },
      },
    },
    _attachments: { [`${name}-${version}.tgz`]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } },
  };
}

const registries = { org: '/contoso/_packaging/audited/npm/registry', project: '/contoso/web/_packaging/audited/npm/registry' } as const;

async function publishedPackage(registry: string): Promise<string> {
  const name = uid('pkg');
  await ok(callJson(env, 'PUT', `${registry}/${name}`, { token: await tokens.alice(), body: publishDocument(name) }), 201);
  return name;
}

async function newGrantRequest(): Promise<{ organization: string; id: string }> {
  const organization = await newOrganization('erin@fabrikam.com');
  const erin = await tokens.erin();
  await ok(callJson(env, 'POST', `/${organization}/_apis/projects?${V}`, { token: erin, body: { name: 'lib', visibility: 'public' } }), 201);
  const filed = await ok(callJson(env, 'POST', `/${organization}/_apis/pipelines/freegrantrequests?${V}`, { token: erin, body: grantRequestBody() }), 201);
  return { organization, id: filed.body.id as string };
}

/** A request the review rules sent to manual review (a new organization always is). */
async function requestInManualReview(): Promise<{ organization: string; id: string }> {
  const request = await newGrantRequest();
  await env.runtime.invoke('grant-review');
  return request;
}

const grantRequestBody = () => ({
  requesterName: 'Erin Fabrikam',
  requesterEmail: `${uid('requester')}@fabrikam.com`,
  projects: ['lib'],
  repositories: [`https://github.com/${uid('owner')}/parser`],
  description: 'An open-source parser for configuration files, built and tested on every pull request.',
});

const organizationsOfTenant = async (tenantId: string) => (await env.app.directory.listOrganizationsOfTenant(tenantId)).length;

// ---- the samples: one (or several) valid requests per state-changing route -----------------------

const feedSamples = (scope: 'org' | 'project'): Record<string, Sample> => {
  const suffix = scope === 'org' ? '' : '-project';
  const base = scope === 'org' ? '/contoso/_apis/packaging/feeds' : '/contoso/web/_apis/packaging/feeds';
  const action = scope === 'org' ? 'Org' : 'Project';
  const registry = registries[scope];
  const newFeed = async () => {
    const name = uid('feed');
    await ok(callJson(env, 'POST', `${base}?${V}`, { token: await tokens.packaging(), body: { name, upstreamEnabled: false } }), 201);
    return name;
  };
  return {
    [`packaging-feeds-create${suffix} POST`]: {
      status: 201,
      prepare: async () => ({
        method: 'POST',
        path: `${base}?${V}`,
        token: await tokens.packaging(),
        body: { name: uid('feed'), description: 'the team feed', upstreamEnabled: false },
      }),
      events: [`Artifacts.Feed.${action}.Create`],
    },
    [`packaging-feeds-update${suffix} PATCH`]: {
      status: 200,
      prepare: async () => ({ method: 'PATCH', path: `${base}/${await newFeed()}?${V}`, token: await tokens.packaging(), body: { description: 'changed' } }),
      events: [`Artifacts.Feed.${action}.Modify`],
    },
    [`npm-upstreaming-set${suffix} PATCH`]: {
      status: 200,
      prepare: async () => ({
        method: 'PATCH',
        path: `${base}/audited/npm/packages/${uid('pkg')}/upstreaming?${V}`,
        token: await tokens.packaging(),
        body: { versionsFromExternalUpstreams: 'allowExternalVersions' },
      }),
      events: ['Packaging.UpstreamBehaviorUpdateEvent'],
    },
    [`npm-upstreaming-set${suffix}-scoped PATCH`]: {
      status: 200,
      prepare: async () => ({
        method: 'PATCH',
        path: `${base}/audited/npm/packages/@contoso/${uid('pkg')}/upstreaming?${V}`,
        token: await tokens.packaging(),
        body: { versionsFromExternalUpstreams: 'AllowExternalVersions' },
      }),
      events: ['Packaging.UpstreamBehaviorUpdateEvent'],
    },
    [`npm-registry-publish${suffix} PUT`]: {
      status: 201,
      prepare: async () => {
        const name = uid('pkg');
        return { method: 'PUT', path: `${registry}/${name}`, token: await tokens.alice(), body: publishDocument(name) };
      },
      events: ['Artifacts.Package.Publish'],
    },
    [`npm-dist-tags-set${suffix} PUT`]: {
      status: 201,
      prepare: async () => ({
        method: 'PUT',
        path: `${registry}/-/package/${await publishedPackage(registry)}/dist-tags/beta`,
        token: await tokens.alice(),
        body: '1.0.0',
      }),
      events: ['Artifacts.Package.DistTag.Add'],
    },
    [`npm-dist-tags-remove${suffix} DELETE`]: {
      status: 200,
      prepare: async () => {
        const name = await publishedPackage(registry);
        const token = await tokens.alice();
        await ok(callJson(env, 'PUT', `${registry}/-/package/${name}/dist-tags/beta`, { token, body: JSON.stringify('1.0.0') }), 201);
        return { method: 'DELETE', path: `${registry}/-/package/${name}/dist-tags/beta`, token };
      },
      events: ['Artifacts.Package.DistTag.Remove'],
    },
  };
};

export const SAMPLES: Readonly<Record<string, Sample | readonly Sample[]>> = {
  'organizations-create POST': {
    status: 201,
    prepare: async () => ({
      method: 'POST',
      path: `/_apis/organizations?${V}`,
      token: await tokens.erin(),
      body: { name: uid('org'), description: 'An organization' },
    }),
    events: ['Organization.Create'],
  },
  'projects-create POST': {
    status: 201,
    prepare: async () => ({
      method: 'POST',
      path: `/contoso/_apis/projects?${V}`,
      token: await tokens.alice(),
      body: { name: uid('project'), description: 'A project', visibility: 'private' },
    }),
    events: ['Project.CreateCompleted'],
  },
  'projects-update PATCH': {
    status: 200,
    prepare: async () => {
      const name = uid('project');
      const token = await tokens.alice();
      await ok(callJson(env, 'POST', `/contoso/_apis/projects?${V}`, { token, body: { name } }), 201);
      return { method: 'PATCH', path: `/contoso/_apis/projects/${name}?${V}`, token, body: { description: 'Changed', visibility: 'public' } };
    },
    events: ['Project.UpdateCompleted'],
  },
  'members-add POST': [
    {
      label: 'a person of the tenant',
      status: 201,
      prepare: async () => ({
        method: 'POST',
        path: `/contoso/_apis/userentitlements?${V}`,
        token: await tokens.alice(),
        body: { user: { principalName: (await newPerson()).email } },
      }),
      events: ['Group.UpdateGroupMembership'],
    },
    {
      label: 'a guest of another tenant',
      status: 202,
      prepare: async () => ({
        method: 'POST',
        path: `/${guestOrganization}/_apis/userentitlements?${V}`,
        token: await tokens.alice(),
        body: { user: { principalName: (await newPerson(FABRIKAM_TENANT_ID)).email } },
      }),
      events: ['Group.InviteGuest'],
    },
  ],
  'members-update PATCH': {
    status: 200,
    prepare: async () => ({
      method: 'PATCH',
      path: `/contoso/_apis/userentitlements/${(await newMember()).id}?${V}`,
      token: await tokens.alice(),
      body: { groups: ['projectCollectionAdministrators'] },
    }),
    events: ['Group.UpdateGroupMembership'],
  },
  'members-remove DELETE': {
    status: 204,
    prepare: async () => ({ method: 'DELETE', path: `/contoso/_apis/userentitlements/${(await newMember()).id}?${V}`, token: await tokens.alice() }),
    events: ['Group.UpdateGroupMembership'],
  },
  'invitations-accept POST': {
    status: 200,
    prepare: async () => {
      const guest = await newPerson(FABRIKAM_TENANT_ID);
      await ok(
        callJson(env, 'POST', `/${guestOrganization}/_apis/userentitlements?${V}`, {
          token: await tokens.alice(),
          body: { user: { principalName: guest.email } },
        }),
        202,
      );
      const token = await env.userToken(guest.email, { userId: guest.id, displayName: guest.displayName, tenantId: FABRIKAM_TENANT_ID });
      return { method: 'POST', path: `/_apis/invitations/${guestOrganization}/accept?${V}`, token };
    },
    events: ['Group.UpdateGroupMembership'],
  },
  'organization-settings-update PATCH': {
    status: 200,
    prepare: async () => {
      const current = await env.app.directory.getOrganizationByName(settingsOrganization);
      return {
        method: 'PATCH',
        path: `/${settingsOrganization}/_apis/organization/settings?${V}`,
        token: await tokens.alice(),
        body: { allowExternalGuests: !current!.allowExternalGuests },
      };
    },
    // One event per changed setting; the sample changes one.
    events: ['Organization.SettingsUpdateEvent'],
  },
  'pats-create POST': {
    status: 200,
    prepare: async () => ({
      method: 'POST',
      path: `/contoso/_apis/tokens/pats?${PREVIEW}`,
      token: await tokens.alice(),
      body: { displayName: uid('pat'), scope: 'vso.code', validTo: inDays(30), allOrgs: false },
    }),
    events: ['Token.PatCreateEvent'],
  },
  'pats-update PUT': {
    status: 200,
    prepare: async () => {
      const token = await tokens.alice();
      const pat = await createPat(env, { token });
      return {
        method: 'PUT',
        path: `/contoso/_apis/tokens/pats?${PREVIEW}`,
        token,
        body: { authorizationId: pat.authorizationId, displayName: 'renamed', scope: 'vso.code vso.build', validTo: inDays(20) },
      };
    },
    events: ['Token.PatUpdateEvent'],
  },
  'pats-revoke DELETE': {
    status: 204,
    prepare: async () => {
      const token = await tokens.alice();
      const pat = await createPat(env, { token });
      return { method: 'DELETE', path: `/contoso/_apis/tokens/pats?${PREVIEW}&authorizationId=${pat.authorizationId}`, token };
    },
    events: ['Token.PatRevokeEvent'],
  },
  'pats-rotate POST': {
    status: 200,
    prepare: async () => {
      const token = await tokens.alice();
      const pat = await createPat(env, { token });
      return { method: 'POST', path: `/contoso/_apis/tokens/pats/rotate?${PREVIEW}&authorizationId=${pat.authorizationId}`, token, body: {} };
    },
    // Without a grace period (the default) the old token ends at once: its system revocation is the second event.
    events: ['Token.PatRotateEvent', 'Token.PatSystemRevokeEvent'],
  },
  'pats-self-rotate POST': {
    status: 200,
    prepare: async () => {
      const pat = await createPat(env, { token: await tokens.alice() });
      // Its first use from this address is its own event; the rotation is measured after it.
      await ok(callJson(env, 'GET', '/contoso/_apis/connectionData', { authorization: `Bearer ${pat.token}` }), 200);
      return { method: 'POST', path: `/contoso/_apis/tokens/pats/self/rotate?${PREVIEW}&gracePeriodMinutes=5`, authorization: `Bearer ${pat.token}` };
    },
    // With a grace period the old token keeps working for a while: one event.
    events: ['Token.PatRotateEvent'],
  },
  'tokens-leaks POST': {
    status: 202,
    prepare: async () => {
      const pat = await createPat(env, { token: await tokens.alice() });
      return { method: 'POST', path: '/_apis/tokens/leaks', body: { tokens: [pat.token], url: 'https://paste.example/raw/1', source: 'scanner' } };
    },
    // The discovery, and the automatic revocation the tenant's policy asks for. A report naming no
    // live token answers the same and changes nothing.
    events: async (call) => {
      const [candidate] = (call.body as { tokens: string[] }).tokens;
      return env.issuedSecrets.has(candidate ?? '') ? ['Token.PatPublicDiscoveryEvent', 'Token.PatSystemRevokeEvent'] : [];
    },
  },
  'token-policies-update PUT': {
    status: 200,
    prepare: async () => ({
      method: 'PUT',
      path: `/contoso/_apis/tokens/policies?${V}`,
      token: await tokens.alice(),
      body: { maxPatLifespan: { enabled: false, maxDays: 30 + counter++, exemptUsers: [ALICE.id] } },
    }),
    events: ['Token.PolicyUpdateEvent'],
  },
  'tenant-policies-update PUT': {
    status: 200,
    prepare: async () => ({
      method: 'PUT',
      path: `/_apis/tenant/policies?${V}`,
      token: await tokens.tina(),
      body: { maxPatLifespan: { enabled: false, maxDays: 30 + counter++, exemptUsers: [ALICE.id] } },
    }),
    // The tenant's policies govern each of its organizations: one event in every one of them.
    events: async () => Array.from({ length: await organizationsOfTenant(DEMO_TENANT_ID) }, () => 'Token.TenantPolicyUpdateEvent' as const),
  },
  'tenant-revocations POST': {
    status: 204,
    prepare: async () => {
      const pat = await createPat(env, { token: await tokens.alice() }, { allOrgs: true });
      return {
        method: 'POST',
        path: `/_apis/tenant/tokenadmin/revocations?${V}`,
        token: await tokens.tina(),
        body: [{ authorizationId: pat.authorizationId }],
      };
    },
    // One event per token revoked.
    events: ['Token.PatRevokeEvent'],
  },
  'tokenadmin-revocations POST': {
    status: 204,
    prepare: async () => {
      const pat = await createPat(env, { token: await env.userToken('bob@contoso.com') });
      return {
        method: 'POST',
        path: `/contoso/_apis/tokenadmin/revocations?${V}`,
        token: await tokens.alice(),
        body: [{ authorizationId: pat.authorizationId }],
      };
    },
    events: ['Token.PatRevokeEvent'],
  },
  'tokenadmin-revocation-rules POST': {
    status: 201,
    prepare: async () => ({
      method: 'POST',
      path: `/contoso/_apis/tokenadmin/revocationrules?${V}`,
      token: await tokens.alice(),
      body: { scopes: 'vso.wiki_write', createdBefore: new Date(env.clock.now().getTime() - 86_400_000).toISOString() },
    }),
    // The rule, plus a system revocation per token it matches: none was created before yesterday.
    events: ['Token.RevocationRuleCreateEvent'],
  },
  'sshkeys-create POST': {
    status: 200,
    prepare: async () => ({
      method: 'POST',
      path: `/contoso/_apis/tokens/sshkeys?${PREVIEW}`,
      token: await tokens.alice(),
      body: { displayName: uid('key'), publicData: sshKeyLine(), validTo: inDays(30) },
    }),
    events: ['Token.SshCreateEvent'],
  },
  'sshkeys-update PUT': {
    status: 200,
    prepare: async () => ({
      method: 'PUT',
      path: `/contoso/_apis/tokens/sshkeys?${PREVIEW}`,
      token: await tokens.alice(),
      body: { authorizationId: await newSshKey(), displayName: 'renamed', validTo: inDays(20) },
    }),
    events: ['Token.SshUpdateEvent'],
  },
  'sshkeys-delete DELETE': [
    {
      label: 'revoke',
      status: 204,
      prepare: async () => ({
        method: 'DELETE',
        path: `/contoso/_apis/tokens/sshkeys?${PREVIEW}&authorizationId=${await newSshKey()}`,
        token: await tokens.alice(),
      }),
      events: ['Token.SshRevokeEvent'],
    },
    {
      label: 'remove',
      status: 204,
      prepare: async () => ({
        method: 'DELETE',
        path: `/contoso/_apis/tokens/sshkeys?${PREVIEW}&authorizationId=${await newSshKey()}&remove=true`,
        token: await tokens.alice(),
      }),
      events: ['Token.SshRemoveEvent'],
    },
  ],
  'notification-settings-update PUT': {
    status: 200,
    prepare: async () => ({
      method: 'PUT',
      path: `/contoso/_apis/notifications/settings?${V}`,
      token: await tokens.alice(),
      body: { expiryNotificationDays: [30, 7, 1 + (counter++ % 5)] },
    }),
    events: ['Organization.NotificationSettingsUpdateEvent'],
  },
  'notification-webhook-update PUT': {
    status: 200,
    prepare: async () => ({
      method: 'PUT',
      path: `/contoso/_apis/notifications/webhook?${V}`,
      token: await tokens.alice(),
      body: { url: `https://hooks.example.com/${uid('hook')}`, secret: 'a-secret-of-at-least-16' },
    }),
    events: ['Organization.NotificationSettingsUpdateEvent'],
  },
  'notification-webhook-delete DELETE': {
    status: 204,
    prepare: async () => {
      const token = await tokens.alice();
      await ok(callJson(env, 'PUT', `/contoso/_apis/notifications/webhook?${V}`, { token, body: { url: 'https://hooks.example.com/gatehouse' } }), 200);
      return { method: 'DELETE', path: `/contoso/_apis/notifications/webhook?${V}`, token };
    },
    events: ['Organization.NotificationSettingsUpdateEvent'],
  },
  'pipeline-grant-requests-create POST': {
    status: 201,
    prepare: async () => {
      const organization = await newOrganization('erin@fabrikam.com');
      const token = await tokens.erin();
      await ok(callJson(env, 'POST', `/${organization}/_apis/projects?${V}`, { token, body: { name: 'lib', visibility: 'public' } }), 201);
      return { method: 'POST', path: `/${organization}/_apis/pipelines/freegrantrequests?${V}`, token, body: grantRequestBody() };
    },
    events: ['Pipelines.FreeGrantRequested'],
  },
  'operator-grant-decision POST': {
    status: 200,
    prepare: async () => ({
      method: 'POST',
      path: `/_apis/pipelines/freegrantrequests/${(await requestInManualReview()).id}/decision?${V}`,
      token: await tokens.operator(),
      body: { decision: 'approve', comment: 'Checked the repositories by hand.' },
    }),
    events: ['Pipelines.FreeGrantApproved'],
  },
  'operator-grant-revoke POST': {
    status: 200,
    prepare: async () => {
      const request = await requestInManualReview();
      const token = await tokens.operator();
      await ok(
        callJson(env, 'POST', `/_apis/pipelines/freegrantrequests/${request.id}/decision?${V}`, { token, body: { decision: 'approve', comment: 'ok' } }),
        200,
      );
      return {
        method: 'POST',
        path: `/_apis/pipelines/freegrants/${request.organization}/revoke?${V}`,
        token,
        body: { comment: 'The jobs were used for mining.' },
      };
    },
    events: ['Pipelines.FreeGrantRevoked'],
  },
  'audit-checksuites-ingest POST': {
    status: 201,
    prepare: async () => ({
      method: 'POST',
      path: `/contoso/_apis/audit/checksuites?${PREVIEW}`,
      token: await env.appToken('pipelines'),
      body: {
        checkSuiteId: randomUUID(),
        status: 'approved',
        completedOn: new Date(env.clock.now().getTime() - 3_600_000).toISOString(),
        projectId: webProjectId,
        pipeline: { id: 42, name: 'web-ci' },
        run: { id: 1234, name: '20260310.3' },
        stage: { name: 'Production', attempt: 1 },
        checkRuns: [
          {
            id: randomUUID(),
            type: 'Approval',
            status: 'approved',
            approvers: [
              {
                id: randomUUID(),
                displayName: 'Approver',
                uniqueName: 'approver@contoso.com',
                decision: 'approved',
                comment: 'Looks good',
                decidedOn: new Date(env.clock.now().getTime() - 3_700_000).toISOString(),
              },
            ],
          },
        ],
      },
    }),
    events: ['CheckSuite.Completed'],
  },
  'audit-readers-grant PUT': {
    status: 201,
    prepare: async () => ({ method: 'PUT', path: `/contoso/_apis/audit/readers/${(await newMember()).id}?${PREVIEW}`, token: await tokens.alice(), body: {} }),
    events: ['AuditLog.ReaderGranted'],
  },
  'audit-readers-revoke DELETE': {
    status: 204,
    prepare: async () => {
      const member = await newMember();
      const token = await tokens.alice();
      await ok(callJson(env, 'PUT', `/contoso/_apis/audit/readers/${member.id}?${PREVIEW}`, { token, body: {} }), 201);
      return { method: 'DELETE', path: `/contoso/_apis/audit/readers/${member.id}?${PREVIEW}`, token };
    },
    events: ['AuditLog.ReaderRevoked'],
  },
  'audit-settings-update PATCH': {
    status: 200,
    prepare: async () => ({
      method: 'PATCH',
      path: `/contoso/_apis/audit/settings?${PREVIEW}`,
      token: await tokens.alice(),
      body: { retentionDays: 400 + counter++ },
    }),
    events: ['AuditLog.RetentionUpdated'],
  },
  ...feedSamples('org'),
  ...feedSamples('project'),
};

export const samplesOf = (key: string): readonly Sample[] => {
  const found = SAMPLES[key];
  return found === undefined ? [] : Array.isArray(found) ? found : [found as Sample];
};

// ---- measuring one call ------------------------------------------------------------------------------

/** Every row of every table, as `<table>|<partition>|<row>` → ETag (which changes with every write). */
async function snapshot(): Promise<Map<string, string>> {
  const rows = new Map<string, string>();
  await Promise.all(
    Object.values(TABLES).map(async (table) => {
      for await (const entity of env.app.storage.table(table).listEntities({ queryOptions: { select: ['PartitionKey', 'RowKey'] } })) {
        rows.set(`${table}|${entity.partitionKey}|${entity.rowKey}`, String(entity.etag));
      }
    }),
  );
  return rows;
}

/**
 * Rows that change without being a change anyone makes: the change feed that tells other instances
 * about a change (written with the change itself; its own events are the change's).
 */
const BOOKKEEPING_TABLES = new Set<string>([TABLES.changes]);

interface Measured {
  readonly reply: JsonReply;
  /** Keys of rows created, changed or deleted, outside the audit log and bookkeeping. */
  readonly changed: readonly string[];
  readonly events: readonly { actionId: string; area: string; category: string; data: Record<string, unknown> }[];
  readonly leftOutbox: readonly string[];
}

export async function measure(call: Call): Promise<Measured> {
  await deliverAuditQueue(env);
  const before = await snapshot();
  const reply = await callJson(env, call.method, call.path, {
    token: call.token,
    authorization: call.authorization,
    ...(call.body === undefined ? {} : { body: typeof call.body === 'string' ? JSON.stringify(call.body) : call.body }),
  });
  await deliverAuditQueue(env);
  const after = await snapshot();
  const changed = [...new Set([...before.keys(), ...after.keys()])].filter((key) => before.get(key) !== after.get(key));
  const eventKeys = changed.filter((key) => key.startsWith(`${TABLES.auditLog}|`) && key.split('|')[3]?.startsWith(EVENT_PREFIX) && after.has(key));
  const events = await Promise.all(
    eventKeys.map(async (key) => {
      const [, organizationId, day, rowKey] = key.split('|');
      const row = await env.app.storage.table(TABLES.auditLog).getEntity<AuditRow>(`${organizationId}|${day}`, rowKey!);
      return { actionId: row.ActionId, area: row.Area, category: row.Category, data: JSON.parse(await readRowData(env.app, row)) as Record<string, unknown> };
    }),
  );
  return {
    reply,
    changed: changed.filter(
      (key) => !key.startsWith(`${TABLES.auditLog}|`) && !key.startsWith(`${TABLES.auditDays}|`) && !BOOKKEEPING_TABLES.has(key.split('|')[0]!),
    ),
    events,
    leftOutbox: [...after.keys()].filter((key) => key.split('|')[2]?.startsWith(OUTBOX_ROW_PREFIX)),
  };
}

const requiredKeys = (actionId: string) =>
  [...(AUDIT_ACTIONS[actionId as AuditActionId]?.details ?? '').matchAll(TEMPLATE_PLACEHOLDER)].filter((match) => !match[1]).map((match) => match[2]!);

/** The rules every call keeps; `label` names the call in failures. */
export async function expectAudited(sample: Sample, call: Call, label: string, strict: boolean): Promise<void> {
  const { reply, changed, events, leftOutbox } = await measure(call);
  expect(reply.status, `${label}: ${reply.text.slice(0, 300)}`).toBeLessThan(500);
  if (strict) expect(reply.status, `${label}: ${reply.text.slice(0, 300)}`).toBe(sample.status);
  expect(leftOutbox, `${label}: a committed change whose event was not stored`).toEqual([]);
  expect(await poisonedAuditMessages(env), `${label}: an event went to poison`).toBe(0);
  const succeeded = reply.status >= 200 && reply.status < 300;
  const expected = succeeded ? (typeof sample.events === 'function' ? await sample.events(call) : sample.events) : [];
  expect(events.map((event) => event.actionId).sort(), `${label} (${reply.status}): the events stored`).toEqual([...expected].sort());
  if (expected.length === 0) expect(changed, `${label} (${reply.status}): state changed without an event`).toEqual([]);
  for (const event of events) {
    const action = AUDIT_ACTIONS[event.actionId as AuditActionId];
    expect({ area: event.area, category: event.category }, label).toEqual({ area: action.area, category: action.category });
    for (const key of requiredKeys(event.actionId)) expect(Object.hasOwn(event.data, key), `${label}: ${event.actionId} lacks data.${key}`).toBe(true);
  }
}

// ---- hostile text -------------------------------------------------------------------------------------

type Path = readonly (string | number)[];

export function stringPaths(value: unknown, path: Path = []): Path[] {
  if (typeof value === 'string') return [path];
  if (Array.isArray(value)) return value.flatMap((item, index) => stringPaths(item, [...path, index]));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([key, item]) => stringPaths(item, [...path, key]));
  return [];
}

export function withValue(value: unknown, path: Path, replace: (current: string) => string): unknown {
  if (path.length === 0) return replace(value as string);
  const [head, ...rest] = path;
  if (Array.isArray(value)) return value.map((item, index) => (index === head ? withValue(item, rest, replace) : item));
  return { ...(value as Record<string, unknown>), [head!]: withValue((value as Record<string, unknown>)[head as string], rest, replace) };
}

/** The longest the route's body schema lets this field be; undefined when the schema sets no limit. */
export function maxLengthOf(declaration: HttpDeclaration | undefined, path: Path): number | undefined {
  const schema = declaration?.doc?.body;
  if (!schema) return undefined;
  let node: any;
  try {
    node = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  } catch {
    return undefined;
  }
  for (const step of path) {
    const choice = (candidate: any) => (candidate?.anyOf ?? candidate?.oneOf ?? [candidate]).find((option: any) => option?.type !== 'null') ?? candidate;
    node = choice(node);
    node =
      typeof step === 'number'
        ? node?.items
        : (node?.properties?.[step] ?? (typeof node?.additionalProperties === 'object' ? node.additionalProperties : undefined));
    if (!node) return undefined;
  }
  return (node.anyOf ?? [node]).map((option: any) => option?.maxLength).find((length: unknown) => typeof length === 'number');
}

/** Combining accents on `e`, to `length` UTF-16 units; unlimited fields get what the body limit leaves room for. */
function maximal(current: string, length: number): string {
  const combining = 'e\u0301\u0308';
  return (current + combining.repeat(Math.ceil(Math.max(0, length - current.length) / combining.length) + 1)).slice(0, length);
}

export const VARIANTS: readonly { name: string; apply: (current: string, maxLength: number) => string }[] = [
  { name: 'lone surrogates', apply: (current) => `\ud800${current}\udfff` },
  { name: 'maximal length, combining characters', apply: maximal },
];

export const declarationOf = (key: string) => httpDeclarations.find((declaration) => declaration.name === key.split(' ')[0]);

// ---- fixtures every sample relies on ---------------------------------------------------------------

/** Points the samples at a test environment and makes the organizations, feeds and ids they use. */
export async function prepareRouteSamples(testEnvironment: TestEnvironment): Promise<void> {
  env = testEnvironment;
  const alice = await tokens.alice();
  guestOrganization = await newOrganization('alice@contoso.com');
  await ok(callJson(env, 'PATCH', `/${guestOrganization}/_apis/organization/settings?${V}`, { token: alice, body: { allowExternalGuests: true } }), 200);
  settingsOrganization = await newOrganization('alice@contoso.com');
  const packaging = await tokens.packaging();
  await ok(callJson(env, 'POST', `/contoso/_apis/packaging/feeds?${V}`, { token: packaging, body: { name: 'audited', upstreamEnabled: false } }), 201);
  await ok(callJson(env, 'POST', `/contoso/web/_apis/packaging/feeds?${V}`, { token: packaging, body: { name: 'audited', upstreamEnabled: false } }), 201);
  webProjectId = (await env.app.directory.listProjects(CONTOSO)).find((project) => project.name === 'web')!.id;
}
