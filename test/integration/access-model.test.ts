import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declarations } from '../../functions/declarations.js';
import type { Access } from '../../shared/http/endpoint.js';
import type { HttpDeclaration } from '../../shared/runtime/declarations.js';
import { FABRIKAM_TENANT_ID } from '../../local/demo-data.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { createPat } from '../helpers/http.js';
import { deliverAuditQueue } from '../helpers/queues.js';
import { createOrganization } from '../helpers/directory.js';
import { ALICE, BOB, CONTOSO, DAVE } from '../helpers/demo.js';
import { subjectDescriptor } from '../../shared/auth/caller.js';
import { settleBackgroundWork } from '../../shared/runtime/background.js';
import { latestApiVersion } from '../../shared/http/api-versions.js';

/**
 * The access model, written as the attacks that used to succeed: each `it` names the reproduced
 * attack, and the property behind it.
 */
let env: TestEnvironment;
const api = client(() => env);
const asAlice = api.asUser('alice@contoso.com');
const asBob = api.asUser('bob@contoso.com');
const PAT_V = 'api-version=7.1-preview.1';
const V = 'api-version=7.1';
const inDays = (days: number) => new Date(env.clock.now().getTime() + days * 86_400_000).toISOString();

async function as(email: string, options: Parameters<TestEnvironment['userToken']>[1] = {}) {
  return { token: await env.userToken(email, options) };
}
const connectionData = (token: string, organization: string) => api.as(token).get(`/${organization}/_apis/connectionData`);
const selfLookup = (token: string, organization: string) => api.as(token).get(`/${organization}/_apis/tokens/pats/self?${PAT_V}`);

/** A person of another tenant who signs in for the first time. */
async function stranger(name: string) {
  const userId = randomUUID();
  const email = `${name}@evil.example`;
  return { id: userId, email, token: await env.userToken(email, { userId, displayName: name, tenantId: '9f9f9f9f-0000-4000-8000-00000000e411' }) };
}

beforeAll(async () => {
  env = await startTestEnvironment({ now: '2026-03-02T09:00:00.000Z' });
});
afterAll(async () => {
  await env?.stop();
});

describe('policies are enforced where a token is used', () => {
  it('refuses in contoso a global full-scope ten-year PAT minted in the member’s own organization (attack 1)', async () => {
    const policies = await asAlice.put(`/contoso/_apis/tokens/policies?${V}`, {
      restrictPatCreation: { enabled: true },
      restrictGlobalPats: { enabled: true },
      restrictFullScopePats: { enabled: true },
      maxPatLifespan: { enabled: true, maxDays: 7 },
    });
    expect(policies.status, policies.text).toBe(200);
    try {
      // Blocked in contoso...
      const blocked = await api
        .asUser('dave@contoso.com')
        .post(`/contoso/_apis/tokens/pats?${PAT_V}`, { displayName: 'x', scope: 'app_token', validTo: inDays(3000), allOrgs: true });
      expect(blocked.status).toBe(403);
      // ...so dave makes his own organization and mints the token there.
      await createOrganization(env, 'dave@contoso.com', 'daves-own');
      const minted = await createPat(env, await as('dave@contoso.com'), { scope: 'app_token', validTo: inDays(3650), allOrgs: true }, 'daves-own');
      expect((await connectionData(minted.token, 'daves-own')).status).toBe(200);

      const used = await connectionData(minted.token, 'contoso');
      expect(used.status, used.text).toBe(403);
      expect(['globalPatPolicyViolation', 'fullScopePatPolicyViolation', 'patLifespanPolicyViolation', 'disablePatCreationPolicyViolation']).toContain(
        used.body.code,
      );
      expect(used.body.details.violations).toEqual(
        expect.arrayContaining(['maxPatLifespan', 'restrictFullScopePats', 'restrictGlobalPats', 'restrictPatCreation']),
      );
      // Its self lookup (which lets it in to learn why) says so.
      const self = await selfLookup(minted.token, 'contoso');
      expect(self.status, self.text).toBe(200);
      expect(self.body.policy.compliant).toBe(false);
      expect(self.body.policy.violations).toEqual(
        expect.arrayContaining(['maxPatLifespan', 'restrictFullScopePats', 'restrictGlobalPats', 'restrictPatCreation']),
      );
      expect(self.body.policy.reasons).toHaveLength(self.body.policy.violations.length);
      // Introspection judges it exactly alike.
      const gitserver = `Bearer ${await env.appToken('gitserver')}`;
      const introspected = await api.withAuthorization(gitserver).post('/_apis/tokens/introspect', { token: minted.token, organization: 'contoso' });
      expect(introspected.body).toEqual({ active: false });
    } finally {
      const reset = await asAlice.put(`/contoso/_apis/tokens/policies?${V}`, {
        restrictPatCreation: { enabled: false },
        restrictGlobalPats: { enabled: false },
        restrictFullScopePats: { enabled: false },
        maxPatLifespan: { enabled: false },
      });
      expect(reset.status).toBe(200);
    }
  });

  it('applies tenant policies, set by a tenant administrator, in every organization of the tenant', async () => {
    const global = await createPat(env, await as('alice@contoso.com'), { allOrgs: true });
    expect((await connectionData(global.token, 'contoso')).status).toBe(200);

    const notTenantAdmin = await asAlice.put(`/_apis/tenant/policies?${V}`, { restrictGlobalPats: { enabled: true } });
    expect(notTenantAdmin.status).toBe(403);
    expect(notTenantAdmin.body.code).toBe('missingRole');

    const tina = await as('tina@contoso.com');
    const set = await api
      .as(tina.token)
      .put(`/_apis/tenant/policies?${V}`, { restrictGlobalPats: { enabled: true }, restrictOrganizationCreation: { enabled: true, exemptUsers: [ALICE.id] } });
    expect(set.status, set.text).toBe(200);
    try {
      const refused = await connectionData(global.token, 'contoso');
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('globalPatPolicyViolation');
      const create = await asBob.post(`/contoso/_apis/tokens/pats?${PAT_V}`, { displayName: 'g', scope: 'vso.code', validTo: inDays(5), allOrgs: true });
      expect(create.status).toBe(403);
      expect(create.body.patTokenError ?? create.body.code).toBe('globalPatPolicyViolation');
      const organization = await asBob.post(`/_apis/organizations?${V}`, { name: 'bobs-shadow' });
      expect(organization.status).toBe(403);
      expect(organization.body.code).toBe('organizationCreationRestricted');
      expect((await asAlice.post(`/_apis/organizations?${V}`, { name: 'alice-allowed' })).status).toBe(201);
      // fabrikam is another tenant: untouched
      const erinGlobal = await createPat(env, await as('erin@fabrikam.com'), { allOrgs: true }, 'fabrikam');
      expect((await connectionData(erinGlobal.token, 'fabrikam')).status).toBe(200);
      // The change is in the audit trail of the tenant's organizations.
      const events = await deliverAuditQueue(env);
      expect(events.some((event) => event.actionId === 'Token.TenantPolicyUpdateEvent' && event.organizationId === CONTOSO)).toBe(true);
      expect(events.some((event) => event.actionId === 'Token.TenantPolicyUpdateEvent' && event.organizationName === 'fabrikam')).toBe(false);
    } finally {
      const reset = await api
        .as(tina.token)
        .put(`/_apis/tenant/policies?${V}`, { restrictGlobalPats: { enabled: false }, restrictOrganizationCreation: { enabled: false } });
      expect(reset.status).toBe(200);
    }
    expect((await connectionData(global.token, 'contoso')).status).toBe(200);
  });
});

describe('tenants and consent', () => {
  it('does not let a fresh account of another tenant add a person to its organization and take over their tokens (attack 2)', async () => {
    const mallory = await stranger('mallory');
    const created = await api.as(mallory.token).post(`/_apis/organizations?${V}`, { name: 'mallory-corp' });
    expect(created.status, created.text).toBe(201);
    const alicesGlobal = await createPat(env, await as('alice@contoso.com'), { allOrgs: true });

    const add = await api.as(mallory.token).post(`/mallory-corp/_apis/userentitlements?${V}`, { user: { principalName: 'alice@contoso.com' } });
    expect(add.status).toBe(403);
    expect(add.body.code).toBe('externalGuestsNotAllowed');
    // With guests allowed, she is only invited; nothing is hers to see until she accepts.
    expect((await api.as(mallory.token).patch(`/mallory-corp/_apis/organization/settings?${V}`, { allowExternalGuests: true })).status).toBe(200);
    const invited = await api.as(mallory.token).post(`/mallory-corp/_apis/userentitlements?${V}`, { user: { principalName: 'alice@contoso.com' } });
    expect(invited.status, invited.text).toBe(202);
    const tokens = await api.as(mallory.token).get(`/mallory-corp/_apis/tokenadmin/personalaccesstokens/${subjectDescriptor('user', ALICE.id)}?${V}`);
    expect(tokens.status).toBe(404);
    expect(tokens.body.code).toBe('identityNotFound');
    const revoke = await api.as(mallory.token).post(`/mallory-corp/_apis/tokenadmin/revocations?${V}`, [{ authorizationId: alicesGlobal.authorizationId }]);
    expect(revoke.status).toBe(404);
    // Even after she accepts, her global PAT does not reach another tenant's organization.
    const invitations = await asAlice.get(`/_apis/invitations?${V}`);
    expect(invitations.body.value.map((invitation: { organization: { name: string } }) => invitation.organization.name)).toContain('mallory-corp');
    expect((await asBob.post(`/_apis/invitations/mallory-corp/accept?${V}`)).status).toBe(404);
    expect((await asAlice.post(`/_apis/invitations/mallory-corp/accept?${V}`)).status).toBe(200);
    expect((await connectionData(alicesGlobal.token, 'mallory-corp')).status).toBe(401);
    const afterAccept = await api.as(mallory.token).get(`/mallory-corp/_apis/tokenadmin/personalaccesstokens/${subjectDescriptor('user', ALICE.id)}?${V}`);
    expect(afterAccept.status).toBe(200);
    expect(afterAccept.body.value.map((token: { authorizationId: string }) => token.authorizationId)).not.toContain(alicesGlobal.authorizationId);
    expect((await connectionData(alicesGlobal.token, 'contoso')).status).toBe(200);
  });

  it('lets an administrator of the same tenant govern only access to their own organization (attack 2, same tenant)', async () => {
    const alicesGlobal = await createPat(env, await as('alice@contoso.com'), { allOrgs: true, displayName: 'alice-everywhere' });
    const alicesLocal = await createPat(env, await as('alice@contoso.com'), { displayName: 'alice-contoso' });
    // Used in contoso from an address bob must not learn.
    expect((await api.as(alicesGlobal.token).get('/contoso/_apis/connectionData', { headers: { 'x-forwarded-for': '203.0.113.77' } })).status).toBe(200);
    await settleBackgroundWork(env.app);

    await createOrganization(env, 'bob@contoso.com', 'bobs-place');
    const bob = await as('bob@contoso.com');
    const added = await api.as(bob.token).post(`/bobs-place/_apis/userentitlements?${V}`, { user: { principalName: 'alice@contoso.com' } });
    expect(added.status, added.text).toBe(201);

    const listed = await api.as(bob.token).get(`/bobs-place/_apis/tokenadmin/personalaccesstokens/${subjectDescriptor('user', ALICE.id)}?${V}`);
    expect(listed.status, listed.text).toBe(200);
    const ids = listed.body.value.map((token: { authorizationId: string }) => token.authorizationId);
    expect(ids).toContain(alicesGlobal.authorizationId);
    expect(ids).not.toContain(alicesLocal.authorizationId);
    expect(listed.text).not.toContain('203.0.113.77');
    expect(listed.body.value.find((token: { authorizationId: string }) => token.authorizationId === alicesGlobal.authorizationId).lastUsed).toBeNull();

    const revoked = await api.as(bob.token).post(`/bobs-place/_apis/tokenadmin/revocations?${V}`, [{ authorizationId: alicesGlobal.authorizationId }]);
    expect(revoked.status, revoked.text).toBe(204);
    expect((await connectionData(alicesGlobal.token, 'bobs-place')).status).toBe(401);
    expect((await connectionData(alicesGlobal.token, 'contoso')).status).toBe(200);
    const events = await deliverAuditQueue(env);
    expect(events.find((event) => event.actionId === 'Token.PatOrganizationRevokeEvent')?.data).toMatchObject({
      AuthorizationId: alicesGlobal.authorizationId,
    });
    expect(events.some((event) => event.actionId === 'Token.PatRevokeEvent' && event.data.AuthorizationId === alicesGlobal.authorizationId)).toBe(false);

    // Revoking it everywhere is for its owner, the leak path, expiry, or a tenant administrator.
    const notTenantAdmin = await api.as(bob.token).post(`/_apis/tenant/tokenadmin/revocations?${V}`, [{ authorizationId: alicesGlobal.authorizationId }]);
    expect(notTenantAdmin.status).toBe(403);
    const otherTenant = await createPat(env, await as('erin@fabrikam.com'), {}, 'fabrikam');
    const tina = await as('tina@contoso.com');
    const foreign = await api.as(tina.token).post(`/_apis/tenant/tokenadmin/revocations?${V}`, [{ authorizationId: otherTenant.authorizationId }]);
    expect(foreign.status).toBe(404);
    const everywhere = await api.as(tina.token).post(`/_apis/tenant/tokenadmin/revocations?${V}`, [{ authorizationId: alicesGlobal.authorizationId }]);
    expect(everywhere.status, everywhere.text).toBe(204);
    expect((await connectionData(alicesGlobal.token, 'contoso')).status).toBe(401);
  });
});

describe('introspection and rotation judge as authentication does', () => {
  it('answers inactive for the PAT of a person removed from the organization (attack 3)', async () => {
    await createOrganization(env, 'alice@contoso.com', 'removal-lab');
    const admin = await as('alice@contoso.com');
    expect((await api.as(admin.token).post(`/removal-lab/_apis/userentitlements?${V}`, { user: { principalName: 'dave@contoso.com' } })).status).toBe(201);
    const pat = await createPat(env, await as('dave@contoso.com'), {}, 'removal-lab');
    const gitserver = `Bearer ${await env.appToken('gitserver')}`;
    // gitserver joins the organization, as git servers of an organization do
    await env.app.directory.saveMembership({
      organizationId: (await env.app.directory.getOrganizationByName('removal-lab'))!.id,
      subjectKind: 'servicePrincipal',
      subjectId: 'f1e2d3c4-0000-4000-8000-0000000000f2',
      groups: [],
      projects: [],
    });
    expect((await api.withAuthorization(gitserver).post('/_apis/tokens/introspect', { token: pat.token })).body.active).toBe(true);
    expect((await api.as(admin.token).delete(`/removal-lab/_apis/userentitlements/${DAVE.id}?${V}`)).status).toBe(204);
    expect((await api.withAuthorization(gitserver).post('/_apis/tokens/introspect', { token: pat.token })).body).toEqual({ active: false });
    expect((await connectionData(pat.token, 'removal-lab')).status).toBe(401);
  });

  it('keeps a revocation rule on every successor of a rotated PAT, whichever organization rotates it (attack 4), at once (attack 8)', async () => {
    await createOrganization(env, 'alice@contoso.com', 'rotation-lab');
    const pat = await createPat(env, await as('alice@contoso.com'), { allOrgs: true, scope: 'vso.wiki' });
    expect((await connectionData(pat.token, 'contoso')).status).toBe(200);
    env.clock.advance(1000);
    const rule = await asAlice.post(`/contoso/_apis/tokenadmin/revocationrules?${V}`, { scopes: 'vso.wiki' });
    expect(rule.status, rule.text).toBe(201);
    // No waiting for a cache: the instance that stored the rule enforces it at once.
    expect((await connectionData(pat.token, 'contoso')).status).toBe(401);
    env.clock.advance(60_000);
    const rotated = await api.as(pat.token).post(`/rotation-lab/_apis/tokens/pats/self/rotate?${PAT_V}`);
    expect(rotated.status, rotated.text).toBe(200);
    const successor = rotated.body.patToken.token as string;
    expect((await connectionData(successor, 'rotation-lab')).status).toBe(200);
    expect((await connectionData(successor, 'contoso')).status).toBe(401);
  });

  it('never lets a PAT extend its own life by rotating itself (attack 5)', async () => {
    const pat = await createPat(env, await as('bob@contoso.com'), { validTo: inDays(30) });
    let token = pat.token;
    for (let round = 0; round < 3; round++) {
      env.clock.advance(7 * 86_400_000);
      const rotated = await api.as(token).post(`/contoso/_apis/tokens/pats/self/rotate?${PAT_V}`);
      expect(rotated.status, rotated.text).toBe(200);
      expect(rotated.body.patToken.validTo).toBe(pat.validTo);
      token = rotated.body.patToken.token;
    }
    env.clock.advance(10 * 86_400_000);
    expect((await connectionData(token, 'contoso')).status).toBe(401);
    // The owner, signed in, may still give a successor a fresh lifetime.
    const fresh = await createPat(env, await as('bob@contoso.com'), { validTo: inDays(30) });
    env.clock.advance(10 * 86_400_000);
    const byOwner = await asBob.post(`/contoso/_apis/tokens/pats/rotate?${PAT_V}&authorizationId=${fresh.authorizationId}`);
    expect(byOwner.status, byOwner.text).toBe(200);
    expect(Date.parse(byOwner.body.patToken.validTo)).toBeGreaterThan(Date.parse(fresh.validTo));
  });
});

describe('delegated scopes on every route', () => {
  type Restricted = Exclude<Access, { anonymous: true }>;
  const userRoutes = declarations
    .filter((d): d is HttpDeclaration => d.kind === 'http' && !!d.doc && !d.doc.access.anonymous && !!d.doc.access.users)
    .flatMap((declaration) => declaration.options.methods.map((method) => ({ declaration, method, access: declaration.doc!.access as Restricted })));

  it('refuses administrative writes to a token with an unrelated scope (attack 6)', async () => {
    const packagingOnly = await as('alice@contoso.com', { scopes: ['vso.packaging'] });
    const writes = [
      api.as(packagingOnly.token).patch(`/contoso/_apis/audit/settings?api-version=7.1-preview.1`, { retentionDays: 400 }),
      api.as(packagingOnly.token).put(`/contoso/_apis/tokens/policies?${V}`, { restrictGlobalPats: { enabled: true } }),
      api.as(packagingOnly.token).patch(`/contoso/_apis/userentitlements/${BOB.id}?${V}`, { groups: ['projectCollectionAdministrators'] }),
      api.as(packagingOnly.token).put(`/contoso/_apis/audit/readers/${DAVE.id}?api-version=7.1-preview.1`),
    ];
    for (const reply of await Promise.all(writes)) {
      expect(reply.status, reply.text).toBe(403);
      expect(reply.body.code).toBe('insufficientScope');
    }
  });

  it('names a scope on every route a user token can call, and refuses a token without it (the scope column)', async () => {
    const unrelated = (await as('alice@contoso.com', { scopes: ['vso.code'] })).token;
    const matrix: string[] = [];
    for (const { declaration, method, access } of userRoutes) {
      const scopes = access.users!.scopes;
      expect(scopes.length, declaration.options.route).toBeGreaterThan(0);
      const range = declaration.doc!.apiVersions;
      const version = range ? latestApiVersion(range) : undefined;
      const path = `/${declaration.options.route
        .replace('{organization}', 'contoso')
        .replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000')}${version ? `?api-version=${version}` : ''}`;
      const reply = await api.as(unrelated).request(method, path, method === 'GET' || method === 'DELETE' ? {} : { body: {} });
      expect(reply.status, `${method} ${path}`).toBe(403);
      expect(reply.body?.code, `${method} ${path}`).toBe('insufficientScope');
      matrix.push(`${method.padEnd(6)} ${declaration.options.route} — ${scopes.join(' | ')}`);
    }
    console.log(`delegated scopes per route (${matrix.length}):\n  ${matrix.join('\n  ')}`);
  });
});

describe('invariants the store guards', () => {
  it('never lets two administrators removing each other leave the organization without one (attack 7)', async () => {
    for (let round = 0; round < 4; round++) {
      const name = `duel-${round}`;
      await createOrganization(env, 'alice@contoso.com', name);
      const alice = await as('alice@contoso.com');
      const bob = await as('bob@contoso.com');
      const added = await api
        .as(alice.token)
        .post(`/${name}/_apis/userentitlements?${V}`, { user: { principalName: 'bob@contoso.com' }, groups: ['projectCollectionAdministrators'] });
      expect(added.status, added.text).toBe(201);
      const [first, second] = await Promise.all([
        api.as(alice.token).delete(`/${name}/_apis/userentitlements/${BOB.id}?${V}`),
        api.as(bob.token).delete(`/${name}/_apis/userentitlements/${ALICE.id}?${V}`),
      ]);
      const statuses = [first.status, second.status];
      expect(statuses.filter((status) => status === 204).length, JSON.stringify(statuses)).toBeLessThanOrEqual(1);
      const organization = (await env.app.directory.getOrganizationByName(name))!;
      const administrators = (await env.app.directory.listMemberships(organization.id)).filter((membership) =>
        membership.groups.includes('projectCollectionAdministrators'),
      );
      expect(administrators.length).toBeGreaterThanOrEqual(1);
    }
  });

  it('ends audit-reader and feed grants with the membership; a re-add does not bring them back (attack 7)', async () => {
    const alice = await as('alice@contoso.com');
    const dave = await as('dave@contoso.com');
    expect((await api.as(alice.token).put(`/contoso/_apis/audit/readers/${DAVE.id}?api-version=7.1-preview.1`)).status).toBe(201);
    expect((await api.as(dave.token).get('/contoso/_apis/audit/auditlog?api-version=7.1-preview.1')).status).toBe(200);
    const packaging = await as('alice@contoso.com', { scopes: ['vso.packaging_manage'] });
    const feed = await api.as(packaging.token).post(`/contoso/_apis/packaging/feeds?${V}`, { name: 'grants', owners: [DAVE.id] });
    expect(feed.status, feed.text).toBe(201);
    const davePackaging = await as('dave@contoso.com', { scopes: ['vso.packaging_manage'] });
    expect((await api.as(davePackaging.token).patch(`/contoso/_apis/packaging/feeds/grants?${V}`, { description: 'mine' })).status).toBe(200);

    expect((await api.as(alice.token).delete(`/contoso/_apis/userentitlements/${DAVE.id}?${V}`)).status).toBe(204);
    env.clock.advance(1000);
    const readded = await api.as(alice.token).post(`/contoso/_apis/userentitlements?${V}`, { user: { principalName: 'dave@contoso.com' } });
    expect(readded.status, readded.text).toBe(201);

    const log = await api.as(dave.token).get('/contoso/_apis/audit/auditlog?api-version=7.1-preview.1');
    expect(log.status).toBe(403);
    const edit = await api.as(davePackaging.token).patch(`/contoso/_apis/packaging/feeds/grants?${V}`, { description: 'still mine?' });
    expect(edit.status).toBe(403);
    expect(edit.body.code).toBe('feedPermissionDenied');
  });
});

describe('identities and restricted people', () => {
  it('lets a guest identity (#EXT#) create a usable organization (attack 9)', async () => {
    const guestId = randomUUID();
    const token = await env.userToken('someone_fabrikam.com#EXT#@contoso.onmicrosoft.com', {
      userId: guestId,
      displayName: 'Guest \ud800 User',
      tenantId: FABRIKAM_TENANT_ID,
    });
    const created = await api.as(token).post(`/_apis/organizations?${V}`, { name: 'guest-made' });
    expect(created.status, created.text).toBe(201);
    expect((await api.as(token).get(`/guest-made/_apis/projects?${V}`)).status).toBe(200);
    const members = await api.as(token).get(`/guest-made/_apis/userentitlements?${V}`);
    expect(members.body.members?.[0]?.user.principalName ?? members.text).toContain('#EXT#');
  });

  it('keeps notification settings from Project-Scoped Users and members (attack 10)', async () => {
    const alice = await as('alice@contoso.com');
    expect((await api.as(alice.token).patch(`/contoso/_apis/organization/settings?${V}`, { limitUserVisibilityToProjects: true })).status).toBe(200);
    try {
      const carol = await api.asUser('carol@contoso.com').get(`/contoso/_apis/notifications/settings?${V}`);
      expect(carol.status).toBe(403);
      expect(carol.body.code).toBe('projectScopedUserRestricted');
      for (const path of [
        `/contoso/_apis/tokens/policies?${V}`,
        `/contoso/_apis/audit/settings?api-version=7.1-preview.1`,
        `/contoso/_apis/audit/readers?api-version=7.1-preview.1`,
      ]) {
        const reply = await api.asUser('carol@contoso.com').get(path);
        expect(reply.body.code, path).toBe('projectScopedUserRestricted');
      }
      const bob = await asBob.get(`/contoso/_apis/notifications/settings?${V}`);
      expect(bob.status).toBe(403);
      expect(bob.body.code).toBe('accessDenied');
    } finally {
      expect((await api.as(alice.token).patch(`/contoso/_apis/organization/settings?${V}`, { limitUserVisibilityToProjects: false })).status).toBe(200);
    }
  });
});

describe('hostile organization names on the routes that take one outside the organization path', () => {
  it('answers an invitation or introspection naming an impossible organization with a 4xx or inactive, never a 500', async () => {
    for (const name of ['a%23b', 'x%2Fy', 'not%3Fhere', '%20']) {
      const accept = await asBob.post(`/_apis/invitations/${name}/accept?${V}`);
      expect(accept.status, name).toBeLessThan(500);
      expect(accept.status, name).toBeGreaterThanOrEqual(400);
    }
    const pat = await createPat(env, await as('bob@contoso.com'));
    const gitserver = `Bearer ${await env.appToken('gitserver')}`;
    for (const organization of ['a#b', 'x/y', "o'brien", 'what?']) {
      const reply = await api.withAuthorization(gitserver).post('/_apis/tokens/introspect', { token: pat.token, organization });
      expect(reply.status, organization).toBe(200);
      expect(reply.body, organization).toEqual({ active: false });
    }
  });
});

describe('the SSH key lookup', () => {
  it('answers 404 for an organization name that cannot exist, never a 5xx', async () => {
    const gitserver = `Bearer ${await env.appToken('gitserver')}`;
    const reply = await api.withAuthorization(gitserver).post('/_apis/tokens/sshkeys/lookup?api-version=7.1-preview.1', {
      fingerprint: 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU',
      organization: 'x/y',
    });
    expect(reply.status, reply.text).toBe(404);
  });
});
