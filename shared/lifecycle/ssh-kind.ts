import type { AppContext } from '../app-context.js';
import { expireSshKeyIfDue } from '../sshkeys/expiry.js';
import { SshKeyRepository, type SshKeyRecord } from '../sshkeys/repository.js';
import { TABLES } from '../storage/names.js';
import { expiringItemOf, type ExpirableKind, type ExpiringItem, type FinaliseOutcome, type RunScope } from './kinds.js';

export const sshItem = (record: SshKeyRecord): ExpiringItem => expiringItemOf('sshKey', record);

async function readKey(app: AppContext, ownerId: string, id: string, scope: RunScope) {
  scope.counters.itemsRead++;
  return new SshKeyRepository(app).get(ownerId, id);
}

/**
 * SSH keys: the `sshexpiry` index (same layout as `patexpiry`), finalised by the SSH key module's
 * `expireSshKeyIfDue` (ETag-guarded, Token.SshExpireEvent in the same transaction, idempotent).
 */
export function createSshKind(): ExpirableKind {
  return {
    kind: 'sshKey',
    label: 'SSH key',
    indexTable: TABLES.sshExpiry,

    async finalise(app, entry, now, scope) {
      scope.counters.itemsRead++;
      const result = await expireSshKeyIfDue(app, entry.ownerId, entry.id, now);
      // 'notDue' for a due row: the key was extended and its new row sits elsewhere in the index.
      const outcome: FinaliseOutcome = result === 'notDue' ? 'stale' : result;
      if (outcome !== 'expired' && outcome !== 'alreadyDone') return { outcome };
      const stored = await readKey(app, entry.ownerId, entry.id, scope);
      return stored ? { outcome, item: sshItem(stored.record) } : { outcome };
    },

    async describe(app, ownerId, id, scope) {
      const stored = await readKey(app, ownerId, id, scope);
      return stored ? sshItem(stored.record) : undefined;
    },

    async listForOwner(app, ownerId, organizationId) {
      return (await new SshKeyRepository(app).listByOwner(ownerId))
        .map(({ record }) => record)
        .filter((record) => record.organizationId === organizationId)
        .map(sshItem);
    },

    renewalHelp(item, organization) {
      const base = `/${organization.name}/_apis/tokens/sshkeys?api-version=7.1-preview.1`;
      return [
        `To keep using it, extend it: PUT ${base} with {"authorizationId": "${item.id}", "validTo": "<new date>"}.`,
        `Or replace it: register a new public key with POST ${base}, then revoke this one with DELETE ${base}&authorizationId=${item.id}.`,
      ].join('\n');
    },
  };
}
