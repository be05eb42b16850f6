import type { z } from 'zod';
import type { sshKeyLookupMatchSchema } from './schemas.js';
import type { AppContext } from '../app-context.js';
import { subjectDescriptor, type ServicePrincipalCaller } from '../auth/caller.js';
import type { Organization } from '../directory/repository.js';
import { badRequest, notFound } from '../http/errors.js';
import { judgeCredential } from '../tokens/judge.js';
import { fingerprintHexOf, parsePublicKey } from './keys.js';
import { SshKeyRepository } from './repository.js';
import { sshKeyFactsOf } from './service.js';
import { isGuid } from '../ids.js';

/** A hit records use at most once a minute per key (a git server may look a key up on every push). */
export const LAST_USED_THROTTLE_MS = 60_000;

export type SshKeyLookupMatch = z.infer<typeof sshKeyLookupMatchSchema>;

/**
 * Finds the active registrations of a key (by fingerprint or public key) in the organizations the
 * calling service principal belongs to, optionally one of them. Each registration is judged by the
 * credential judge (shared/tokens/judge.ts), as PATs are: revoked and expired keys, keys whose owner
 * left the organization, and keys the organization's SSH policy no longer allows are not found.
 * Each hit records the key's last use (throttled).
 */
export async function lookupSshKey(
  app: AppContext,
  caller: ServicePrincipalCaller,
  body: { fingerprint?: string | undefined; publicKey?: string | undefined; organization?: string | undefined },
): Promise<{ count: number; value: SshKeyLookupMatch[] }> {
  let fingerprintHex: string | undefined;
  if (body.fingerprint !== undefined) {
    fingerprintHex = fingerprintHexOf(body.fingerprint);
    if (!fingerprintHex) throw badRequest('invalidFingerprint', "fingerprint must be 'SHA256:' followed by the base64 digest, as ssh-keygen -l prints it.");
  } else {
    fingerprintHex = (await parsePublicKey(body.publicKey ?? '')).fingerprintHex;
  }

  let only: Organization | undefined;
  if (body.organization !== undefined) {
    only = isGuid(body.organization)
      ? await app.directory.getOrganizationById(body.organization.toLowerCase())
      : await app.directory.getOrganizationByName(body.organization);
    if (!only || !(await app.directory.getMembership(only.id, 'servicePrincipal', caller.id))) {
      throw notFound('organizationNotFound', `The organization '${body.organization.slice(0, 64)}' does not exist or you do not have access to it.`);
    }
  }

  const now = app.clock.now();
  const repository = new SshKeyRepository(app);
  const value: SshKeyLookupMatch[] = [];
  for (const hit of await repository.findByFingerprint(fingerprintHex)) {
    if (only && hit.organizationId !== only.id) continue;
    if (!(await app.directory.getMembership(hit.organizationId, 'servicePrincipal', caller.id))) continue;
    const stored = await repository.get(hit.ownerId, hit.authorizationId);
    if (!stored) continue;
    const { record } = stored;
    if (record.fingerprintHex !== fingerprintHex || record.organizationId !== hit.organizationId) continue;
    const [organization, owner] = await Promise.all([only ?? app.directory.getOrganizationById(record.organizationId), app.directory.getUser(record.ownerId)]);
    if (!organization) continue;
    // The same judge as PAT authentication: liveness, membership, the SSH policy as it is now.
    if (!(await judgeCredential(app, sshKeyFactsOf(record, owner?.tenantId ?? ''), organization)).ok) continue;
    if (!record.lastUsed || now.getTime() - Date.parse(record.lastUsed) >= LAST_USED_THROTTLE_MS) {
      await repository.touchLastUsed(stored, now);
    }
    value.push({
      authorizationId: record.authorizationId,
      displayName: record.displayName,
      fingerprint: record.fingerprint,
      keyType: record.keyType,
      keySize: record.keySize,
      validFrom: record.validFrom,
      validTo: record.validTo,
      isValid: true,
      owner: {
        id: record.ownerId,
        displayName: owner?.displayName ?? record.ownerId,
        principalName: owner?.email ?? '',
        descriptor: subjectDescriptor('user', record.ownerId),
      },
      organization: { id: organization.id, name: organization.name },
      proven: record.proven,
    });
  }
  if (value.length === 0) throw notFound('sshKeyNotFound', 'No active SSH key with this fingerprint is registered in your organizations.');
  return { count: value.length, value: value.sort((a, b) => a.organization.name.localeCompare(b.organization.name)) };
}
