import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { AppContext } from '../app-context.js';
import { badRequest } from '../http/errors.js';
import { derivedKey } from '../secrets/hashing.js';
import type { PatsGetQuery } from './schemas.js';
import type { CredentialContext } from './service.js';

/**
 * Keyset paging of a caller's credentials (PATs, SSH keys) in an organization. The continuation token
 * carries the sort key of the last item returned, so items created meanwhile never shift or repeat a
 * page. It is `base64url(JSON {v: 1, b, k}) + '.' + HMAC`, signed under a key derived for the list's
 * purpose and bound (`b`) to the caller, the organization and every filter and sort option.
 */

export type CredentialStatus = 'active' | 'expired' | 'revoked';

/** The list options both credential lists share (PATs and SSH keys take the same query). */
export type KeysetQuery = Pick<PatsGetQuery, 'displayFilterOption' | 'sortByOption' | 'isSortAscending' | 'continuationToken' | '$top'>;

/** What the sort keys are made of. */
export interface KeysetRecord {
  readonly authorizationId: string;
  readonly displayName: string;
  readonly validTo: string;
}

export interface KeysetList<R extends KeysetRecord> {
  /** The key derivation purpose of the continuation token's HMAC (one per list). */
  readonly purpose: string;
  /** Leading binding parts that keep the lists' tokens apart (before caller, organization and options). */
  readonly bindingPrefix: readonly string[];
  readonly statusOf: (record: R, now: Date) => CredentialStatus;
}

type SortKey = (string | number)[];

const STATUS_RANK: Record<CredentialStatus, number> = { active: 0, expired: 1, revoked: 2 };

function sortKey<R extends KeysetRecord>(list: KeysetList<R>, record: R, sortBy: KeysetQuery['sortByOption'], now: Date): SortKey {
  const name = record.displayName.toLowerCase();
  switch (sortBy) {
    case 'displayName':
      return [name, record.authorizationId];
    case 'displayDate':
      return [Date.parse(record.validTo), record.authorizationId];
    case 'status':
      return [STATUS_RANK[list.statusOf(record, now)], name, record.authorizationId];
  }
}

function compareKeys(a: SortKey, b: SortKey): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

const invalidContinuation = () =>
  badRequest('invalidContinuationToken', 'The continuation token is not valid for this request; repeat the first request’s filter and sort options.');

function bindingOf(prefix: readonly string[], callerId: string, organizationId: string, query: KeysetQuery): string {
  const binding = [...prefix, callerId, organizationId, query.displayFilterOption, query.sortByOption, String(query.isSortAscending)].join('|');
  return createHash('sha256').update(binding).digest('base64url').slice(0, 22);
}

const macOf = (app: AppContext, purpose: string, body: string) => createHmac('sha256', derivedKey(app.config.peppers, purpose)).update(body);

function signContinuation(app: AppContext, purpose: string, payload: { b: string; k: SortKey }): string {
  const body = Buffer.from(JSON.stringify({ v: 1, ...payload })).toString('base64url');
  return `${body}.${macOf(app, purpose, body).digest('base64url')}`;
}

function readContinuation(app: AppContext, purpose: string, token: string, binding: string): SortKey {
  const [body, mac, extra] = token.split('.');
  if (!body || !mac || extra !== undefined) throw invalidContinuation();
  const expected = macOf(app, purpose, body).digest();
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalidContinuation();
  let payload: { v?: unknown; b?: unknown; k?: unknown };
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as typeof payload;
  } catch {
    throw invalidContinuation();
  }
  if (payload.v !== 1 || payload.b !== binding || !Array.isArray(payload.k)) throw invalidContinuation();
  if (!payload.k.every((part) => typeof part === 'string' || typeof part === 'number')) throw invalidContinuation();
  return payload.k;
}

export interface KeysetPager<R extends KeysetRecord> {
  /** Filters by status, sorts and cuts the page after the continuation token's position. */
  page(records: readonly R[], now: Date): { items: R[]; continuationToken: string };
}

/**
 * Opens a keyset listing for the caller in the organization: checks the query's continuation token
 * first (400 invalidContinuationToken before anything is read), then pages the records handed to
 * `page` (the caller's records visible in the organization).
 */
export function keysetPager<R extends KeysetRecord>(
  { app, caller, organization }: Pick<CredentialContext, 'app' | 'caller' | 'organization'>,
  list: KeysetList<R>,
  query: KeysetQuery,
): KeysetPager<R> {
  const binding = bindingOf(list.bindingPrefix, caller.id, organization.id, query);
  const after = query.continuationToken ? readContinuation(app, list.purpose, query.continuationToken, binding) : undefined;
  const direction = query.isSortAscending ? 1 : -1;
  return {
    page(records, now) {
      const rows = records
        .filter((record) => query.displayFilterOption === 'all' || list.statusOf(record, now) === query.displayFilterOption)
        .map((record) => ({ record, key: sortKey(list, record, query.sortByOption, now) }))
        .sort((a, b) => direction * compareKeys(a.key, b.key));
      const remaining = after ? rows.filter((row) => direction * compareKeys(row.key, after) > 0) : rows;
      const page = remaining.slice(0, query.$top);
      const last = page[page.length - 1];
      const continuationToken = remaining.length > page.length && last ? signContinuation(app, list.purpose, { b: binding, k: last.key }) : '';
      return { items: page.map(({ record }) => record), continuationToken };
    },
  };
}
