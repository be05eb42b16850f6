import { odata } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import { memoForApp } from '../app-memo.js';
import { TtlCache } from '../cache.js';
import { readAll } from '../storage/entities.js';
import { TABLES } from '../storage/names.js';
import { announceChange, onRemoteChange } from '../coherence/changes.js';

export interface RevocationRule {
  id: string;
  scopes: string[];
  createdBefore: string;
  createdAt: string;
  createdBy: string;
}

export const RULE_PREFIX = 'rule_';

export async function listRevocationRules(app: AppContext, organizationId: string): Promise<RevocationRule[]> {
  const rows = await readAll<{ scopes: string; createdBefore: string; createdAt: string; createdBy: string }>(
    app.storage.table(TABLES.revocationRules),
    odata`PartitionKey eq ${organizationId} and RowKey ge ${RULE_PREFIX} and RowKey lt ${'rule`'}`,
  );
  return rows.map((row) => ({
    id: (row.rowKey ?? '').slice(RULE_PREFIX.length),
    scopes: row.scopes.split(' ').filter(Boolean),
    createdBefore: row.createdBefore,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
  }));
}

/**
 * Rules are read on every PAT use, so they are kept per organization for TOKEN_POLICY_CACHE_SECONDS,
 * like policies; the change feed drops them on every instance when a rule is added anywhere.
 */

const ruleCacheOf = memoForApp(
  (app) =>
    new TtlCache<RevocationRule[]>(
      () => app.config.tokenPolicyCacheSeconds * 1000,
      () => 1000,
    ),
);

export async function rulesOf(app: AppContext, organizationId: string): Promise<RevocationRule[]> {
  const cache = ruleCacheOf(app);
  const now = app.clock.now().getTime();
  const cached = cache.get(organizationId, now);
  if (cached) return cached;
  const rules = await listRevocationRules(app, organizationId);
  cache.set(organizationId, rules, now);
  return rules;
}

/** After a rule is stored on this instance: it holds here at once. */
export async function forgetRevocationRules(app: AppContext, organizationId: string): Promise<void> {
  ruleCacheOf(app).delete(organizationId);
  await announceChange('rules', organizationId);
}

onRemoteChange('rules', (app, organizationId) => (organizationId === undefined ? ruleCacheOf(app).clear() : ruleCacheOf(app).delete(organizationId)));
