import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import type { StorageClients } from '../storage/clients.js';
import { assertSafeKey, readAll, readEntity } from '../storage/entities.js';
import { TABLES } from '../storage/names.js';
import type { GrantRequest, GrantRequestStatus, PipelineCapacity } from './schemas.js';

/**
 * Table `pipelinegrants`, one partition (`grants`) so that every change of a request, the indexes that
 * follow it, the organization's capacity record and the audit outbox rows commit in one transaction.
 * Grant requests are submitted by people, a few per day at most, far below one partition's limits.
 *
 * Row keys (always read by prefix range; the partition also holds `outbox_` rows):
 * - `c_<org id>`                                  capacity record of an organization
 * - `r_<org id>_<request id>`                     grant request record
 * - `i_<request id>`                              request id → organization id
 * - `o_<org id>`                                  the organization's open request (creating it twice fails: one open request)
 * - `q_<status>_<submitted at>_<request id>`      open requests by status, oldest first (timer, operators)
 * - `e_<email digest>_<request id>`               requests per requester email (rule: many requests from one email)
 * - `l_<repository digest>_<org id>`              repositories named by approved grants (rule: already granted elsewhere)
 */
export const GRANTS_PARTITION = 'grants';

export const rowKeys = {
  capacity: (organizationId: string) => `c_${organizationId}`,
  request: (organizationId: string, requestId: string) => `r_${organizationId}_${requestId}`,
  requestId: (requestId: string) => `i_${requestId}`,
  open: (organizationId: string) => `o_${organizationId}`,
  queue: (status: GrantRequestStatus, submittedAt: string, requestId: string) => `q_${status}_${submittedAt}_${requestId}`,
  email: (emailDigest: string, requestId: string) => `e_${emailDigest}_${requestId}`,
  link: (repositoryDigest: string, organizationId: string) => `l_${repositoryDigest}_${organizationId}`,
};

export interface Versioned<T> {
  readonly value: T;
  readonly etag: string;
}

export interface QueueEntry {
  readonly organizationId: string;
  readonly requestId: string;
  /** Who submitted it (`<kind>:<id>`), so a review run can take requesters in turn. */
  readonly requesterId: string;
}

const queueColumns = (request: GrantRequest) => ({
  organizationId: request.organizationId,
  requestId: request.id,
  requesterId: `${request.submittedBy.kind}:${request.submittedBy.id}`.toLowerCase(),
});

export interface GrantedLink {
  readonly organizationId: string;
  readonly organizationName: string;
  readonly requestId: string;
  readonly url: string;
  readonly revoked: boolean;
}

const prefixFilter = (prefix: string) => odata`PartitionKey eq ${GRANTS_PARTITION} and RowKey ge ${prefix} and RowKey lt ${`${prefix}~`}`;

const entity = (rowKey: string, columns: Record<string, unknown>) => ({
  partitionKey: GRANTS_PARTITION,
  rowKey: assertSafeKey(rowKey),
  ...columns,
});

export class PipelineGrantRepository {
  readonly tableName = TABLES.pipelineGrants;
  private readonly table: TableClient;

  constructor(storage: StorageClients) {
    this.table = storage.table(TABLES.pipelineGrants);
  }

  // ---- reads -------------------------------------------------------------------------------------

  async getCapacity(organizationId: string): Promise<Versioned<PipelineCapacity> | undefined> {
    const row = await readEntity<{ data: string }>(this.table, GRANTS_PARTITION, rowKeys.capacity(organizationId));
    return row ? { value: JSON.parse(row.data) as PipelineCapacity, etag: row.etag } : undefined;
  }

  async getRequest(organizationId: string, requestId: string): Promise<Versioned<GrantRequest> | undefined> {
    const row = await readEntity<{ data: string }>(this.table, GRANTS_PARTITION, rowKeys.request(organizationId, requestId));
    return row ? { value: JSON.parse(row.data) as GrantRequest, etag: row.etag } : undefined;
  }

  /** A request by id alone (operator routes). */
  async findRequest(requestId: string): Promise<Versioned<GrantRequest> | undefined> {
    const index = await readEntity<{ organizationId: string }>(this.table, GRANTS_PARTITION, rowKeys.requestId(requestId));
    return index ? this.getRequest(index.organizationId, requestId) : undefined;
  }

  async getOpenRequestId(organizationId: string): Promise<string | undefined> {
    const row = await readEntity<{ requestId: string }>(this.table, GRANTS_PARTITION, rowKeys.open(organizationId));
    return row?.requestId;
  }

  /** An organization's requests, newest first. */
  async listRequests(organizationId: string): Promise<GrantRequest[]> {
    const rows = await readAll<{ data: string }>(this.table, prefixFilter(`r_${organizationId}_`));
    return rows.map((row) => JSON.parse(row.data) as GrantRequest).sort(newestFirst);
  }

  /** Open requests in one status, oldest first, from the status index. */
  async listQueue(status: 'pending' | 'manualReview', top: number): Promise<QueueEntry[]> {
    const entries: QueueEntry[] = [];
    const iterator = this.table.listEntities<{ organizationId: string; requestId: string; requesterId?: string }>({
      queryOptions: { filter: prefixFilter(`q_${status}_`), select: ['organizationId', 'requestId', 'requesterId'] },
    });
    for await (const row of iterator) {
      // Rows written before the requester was indexed count their organization as the requester.
      entries.push({ organizationId: row.organizationId, requestId: row.requestId, requesterId: row.requesterId || `organization:${row.organizationId}` });
      if (entries.length >= top) break;
    }
    return entries;
  }

  /** Decided requests in one status across organizations (operators), newest first. */
  async listDecided(status: 'approved' | 'rejected', top: number): Promise<GrantRequest[]> {
    const rows = await readAll<{ data: string }>(
      this.table,
      odata`PartitionKey eq ${GRANTS_PARTITION} and RowKey ge 'r_' and RowKey lt 'r_~' and status eq ${status}`,
    );
    return rows
      .map((row) => JSON.parse(row.data) as GrantRequest)
      .sort(newestFirst)
      .slice(0, top);
  }

  /** Requests submitted with an email since a time (the email index keeps the submission time). */
  async countRequestsFromEmail(emailDigest: string, since: string): Promise<number> {
    const rows = await readAll<{ submittedAt: string }>(this.table, prefixFilter(`e_${emailDigest}_`));
    return rows.filter((row) => row.submittedAt >= since).length;
  }

  /** Approved grants (current or revoked) that name a repository. */
  async grantsNaming(repositoryDigest: string): Promise<GrantedLink[]> {
    const rows = await readAll<Record<string, unknown>>(this.table, prefixFilter(`l_${repositoryDigest}_`));
    return rows.map((row) => ({
      organizationId: String(row.organizationId),
      organizationName: String(row.organizationName),
      requestId: String(row.requestId),
      url: String(row.url),
      revoked: row.revoked === true,
    }));
  }

  // ---- transaction actions -----------------------------------------------------------------------

  /** Creates the capacity record, or replaces it when its etag still matches. */
  capacityAction(capacity: PipelineCapacity, etag: string | undefined): TransactionAction {
    const row = entity(rowKeys.capacity(capacity.organizationId), {
      organizationId: capacity.organizationId,
      grantStatus: capacity.grant.status,
      data: JSON.stringify(capacity),
    });
    return etag ? ['update', row, 'Replace', { etag }] : ['create', row];
  }

  newRequestActions(request: GrantRequest, emailDigest: string): TransactionAction[] {
    return [
      ['create', entity(rowKeys.request(request.organizationId, request.id), requestColumns(request))],
      ['create', entity(rowKeys.requestId(request.id), { organizationId: request.organizationId })],
      ['create', entity(rowKeys.open(request.organizationId), { requestId: request.id, submittedAt: request.submittedAt })],
      ['create', entity(rowKeys.queue(request.status, request.submittedAt, request.id), queueColumns(request))],
      ['create', entity(rowKeys.email(emailDigest, request.id), { organizationId: request.organizationId, submittedAt: request.submittedAt })],
    ];
  }

  /**
   * Moves a request from one open status to its next status: the record (only if unchanged since it
   * was read), the status index and, once decided, the open-request marker.
   */
  transitionActions(previous: GrantRequest, next: GrantRequest, etag: string): TransactionAction[] {
    const actions: TransactionAction[] = [
      ['update', entity(rowKeys.request(next.organizationId, next.id), requestColumns(next)), 'Replace', { etag }],
      ['delete', entity(rowKeys.queue(previous.status, previous.submittedAt, previous.id), {})],
    ];
    if (next.status === 'pending' || next.status === 'manualReview') {
      actions.push(['create', entity(rowKeys.queue(next.status, next.submittedAt, next.id), queueColumns(next))]);
    } else {
      actions.push(['delete', entity(rowKeys.open(next.organizationId), {})]);
    }
    return actions;
  }

  /** Records the repositories of an approved grant (or marks them revoked). */
  linkActions(request: GrantRequest, digest: (key: string) => string, revoked: boolean): TransactionAction[] {
    return request.repositories.map((link) => [
      'upsert',
      entity(rowKeys.link(digest(link.key), request.organizationId), {
        organizationId: request.organizationId,
        organizationName: request.organizationName,
        requestId: request.id,
        url: link.url,
        revoked,
      }),
      'Replace',
    ]);
  }
}

const newestFirst = (a: GrantRequest, b: GrantRequest) => b.submittedAt.localeCompare(a.submittedAt) || a.id.localeCompare(b.id);

function requestColumns(request: GrantRequest) {
  return { organizationId: request.organizationId, requestId: request.id, status: request.status, data: JSON.stringify(request) };
}
