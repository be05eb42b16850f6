import type { AppContext } from '../app-context.js';
import { organizationEvent, systemAuditContext } from '../audit/context.js';
import { commitWithEvents } from '../audit/outbox.js';
import { retryLostRaces } from '../storage/conditional.js';
import { TABLES } from '../storage/names.js';
import { PatRepository, patPartitionOf, patRowKey, type PatRecord } from '../tokens/repository.js';
import { expiryKeys } from '../storage/expiry-keys.js';
import { isVisibleIn, patEventData } from '../tokens/service.js';
import { expiringItemOf, type ExpirableKind, type ExpiringItem, type FinaliseOutcome, type IndexEntry, type RunScope } from './kinds.js';

/** Ends the grace window of a rotated PAT (shared/tokens/rotation.ts); absent until rotation exists. */
export type EndGrace = (app: AppContext, ownerId: string, authorizationId: string, now: Date) => Promise<unknown>;

export const patItem = (record: PatRecord): ExpiringItem => expiringItemOf('pat', record);

async function readPat(app: AppContext, ownerId: string, id: string, scope: RunScope) {
  scope.counters.itemsRead++;
  return new PatRepository(app).get(ownerId, id);
}

/**
 * PATs: `patexpiry` rows at validTo (and, for rotated tokens, at graceEndsAt). Marking a PAT expired is
 * an ETag-conditional merge of `expiredEventAt` committed with Token.PatExpiredEvent through the outbox,
 * so of two runs racing on one PAT exactly one commits; the other sees the flag and reports alreadyDone.
 */
export function createPatKind(endGraceIfDue?: EndGrace): ExpirableKind {
  return {
    kind: 'pat',
    label: 'personal access token',
    indexTable: TABLES.patExpiry,

    async finalise(app, entry: IndexEntry, now, scope) {
      return retryLostRaces(async () => {
        let stored = await readPat(app, entry.ownerId, entry.id, scope);
        const graceEnds = stored?.record.graceEndsAt ? Date.parse(stored.record.graceEndsAt) : NaN;
        if (stored && !stored.record.revokedAt && endGraceIfDue && graceEnds === entry.dueMs && graceEnds <= now.getTime()) {
          await endGraceIfDue(app, stored.record.ownerId, stored.record.authorizationId, now);
          // The grace row is done with; the ordinary validTo row (if different) is processed on its own.
          if (Date.parse(stored.record.validTo) !== entry.dueMs) return { outcome: 'graceEnded' as FinaliseOutcome, item: patItem(stored.record) };
          stored = await readPat(app, entry.ownerId, entry.id, scope);
        }
        if (!stored) return { outcome: 'gone' as FinaliseOutcome };
        const { record, etag } = stored;
        if (record.revokedAt) return { outcome: 'alreadyDone' as FinaliseOutcome, item: patItem(record) };
        const validTo = Date.parse(record.validTo);
        if (validTo !== entry.dueMs || expiryKeys(record.validTo, record.authorizationId).rowKey !== entry.rowKey) {
          return { outcome: 'stale' as FinaliseOutcome, item: patItem(record) };
        }
        if (validTo > now.getTime()) return { outcome: 'stale' as FinaliseOutcome, item: patItem(record) };
        if (record.expiredEventAt) return { outcome: 'alreadyDone' as FinaliseOutcome, item: patItem(record) };

        const cache = scope.directory;
        const organization = (await cache.organization(record.organizationId)) ?? { id: record.organizationId, name: record.organizationId.slice(0, 64) };
        const ownerName = (await cache.user(record.ownerId))?.displayName ?? record.ownerId;
        const expiredAt = now.toISOString();
        const event = organizationEvent(app, systemAuditContext(), organization, {
          actionId: 'Token.PatExpiredEvent',
          data: patEventData(record, ownerName, { ExpiredAt: expiredAt }),
        });
        // A lost race (412) reads again: the winner's flag makes this alreadyDone.
        await commitWithEvents(
          app,
          TABLES.pats,
          [
            [
              'update',
              { partitionKey: patPartitionOf(record.authorizationId), rowKey: patRowKey(record.authorizationId), expiredEventAt: expiredAt },
              'Merge',
              { etag },
            ],
          ],
          [event],
        );
        return { outcome: 'expired' as FinaliseOutcome, item: patItem({ ...record, expiredEventAt: expiredAt }) };
      });
    },

    async describe(app, ownerId, id, scope) {
      const stored = await readPat(app, ownerId, id, scope);
      return stored ? patItem(stored.record) : undefined;
    },

    async listForOwner(app, ownerId, organizationId) {
      return (await new PatRepository(app).listByOwner(ownerId))
        .map(({ record }) => record)
        .filter((record) => isVisibleIn(record, organizationId))
        .map(patItem);
    },

    renewalHelp(item, organization) {
      const base = `/${organization.name}/_apis/tokens/pats?api-version=7.1-preview.1`;
      return [
        `To keep using it, extend it (within your organization's lifespan policy): PUT ${base} with {"authorizationId": "${item.id}", "validTo": "<new date>"}.`,
        `Or rotate it: POST /${organization.name}/_apis/tokens/pats/rotate?api-version=7.1-preview.1&authorizationId=${item.id}&gracePeriodMinutes=60 issues a new secret with the same name and scopes; the old one keeps working for the grace period while you switch your clients.`,
      ].join('\n');
    },
  };
}
