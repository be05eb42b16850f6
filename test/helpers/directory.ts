import { expect } from 'vitest';
import { client } from './client.js';
import type { TestEnvironment } from './environment.js';

/**
 * Brings a person of another tenant into an organization the way it has to happen: the organization
 * allows external guests, an administrator invites, the person accepts with their own token.
 */
export async function addGuest(env: TestEnvironment, administrator: string, organization: string, guest: string): Promise<void> {
  const admin = client(env).as(await env.userToken(administrator));
  const allowed = await admin.patch(`/${organization}/_apis/organization/settings?api-version=7.1`, { allowExternalGuests: true });
  expect(allowed.status, allowed.text).toBe(200);
  const invited = await admin.post(`/${organization}/_apis/userentitlements?api-version=7.1`, { user: { principalName: guest } });
  expect(invited.status, invited.text).toBe(202);
  const accepted = await client(env).asUser(guest).post(`/_apis/invitations/${organization}/accept?api-version=7.1`);
  expect(accepted.status, accepted.text).toBe(200);
}

/** A new organization of the creator's tenant, with the creator as its administrator. */
export async function createOrganization(env: TestEnvironment, creator: string, name: string): Promise<{ id: string; name: string }> {
  const created = await client(env).asUser(creator).post<'organizations-create'>('/_apis/organizations?api-version=7.1', { name });
  expect(created.status, created.text).toBe(201);
  return created.body;
}
