import { createHash } from 'node:crypto';
import { odata, type TableEntityResult } from '@azure/data-tables';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { badRequest } from '../http/errors.js';
import { CATEGORY_DISPLAY_NAMES, findAction, renderDetails, type AuditCategory } from './actions.js';
import { openContinuation, signContinuation, type ReadPosition } from './continuation.js';
import {
  EVENT_END,
  auditDaysTable,
  auditLogTable,
  dayKey,
  partitionKeyOf,
  readRowData,
  rowKeyAtOrAfter,
  rowKeyAtOrBefore,
  type AuditRow,
} from './repository.js';
import { guidText, isGuid } from '../ids.js';
import { DAY_MS } from '../time.js';

// ---- request parameters ---------------------------------------------------------------------------

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/** A date or date-time (ISO 8601); without an offset it is UTC, as Azure DevOps reads it. */
export const timeParam = z
  .string()
  .max(40)
  .refine((value) => ISO_TIME.test(value) && Number.isFinite(parseTime(value)), 'must be an ISO 8601 date or date-time')
  .describe('ISO 8601 date or date-time (UTC when no offset is given)');

export function parseTime(value: string): number {
  const normalized = value.replace(' ', 'T');
  const hasZone = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(normalized);
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(normalized);
  return Date.parse(dateOnly ? `${normalized}T00:00:00Z` : hasZone ? normalized : `${normalized}Z`);
}

export const booleanParam = z.enum(['true', 'false', 'True', 'False', 'TRUE', 'FALSE']).transform((value) => value.toLowerCase() === 'true');

/** Filters beyond Azure DevOps: exact action id, area, actor (id or UPN) and project id. */
export const filterParams = {
  actionId: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*){1,4}$/, 'must be an action id such as Token.PatCreateEvent')
    .max(128)
    .optional(),
  area: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]*$/, 'must be an area name such as Token')
    .max(64)
    .optional(),
  actor: z.string().min(1).max(256).optional().describe("The actor's user or client id, or UPN"),
  projectId: guidText.optional(),
};

export interface AuditFilters {
  readonly actionId?: string | undefined;
  readonly area?: string | undefined;
  readonly actor?: string | undefined;
  readonly projectId?: string | undefined;
}

export interface AuditWindow {
  readonly startMs: number;
  readonly endMs: number;
}

/** Resolves startTime/endTime: defaults to the retention period up to now; a reversed window is a 400. */
export function resolveWindow(nowMs: number, retentionDays: number, startTime: string | undefined, endTime: string | undefined, maxDays?: number): AuditWindow {
  const endMs = endTime ? parseTime(endTime) : nowMs;
  const startMs = startTime ? parseTime(startTime) : Math.min(endMs, nowMs) - (maxDays ?? retentionDays) * DAY_MS;
  if (startMs > endMs) throw badRequest('invalidTimeWindow', 'startTime must not be later than endTime.');
  if (maxDays !== undefined && endMs - startMs > maxDays * DAY_MS) {
    throw badRequest('timeWindowTooLarge', `The time window must not be longer than ${maxDays} days.`);
  }
  return { startMs, endMs };
}

// ---- reading rows newest first --------------------------------------------------------------------

export type StoredRow = TableEntityResult<AuditRow>;

export const BUDGET_EXHAUSTED = Symbol('budgetExhausted');

/**
 * Reads the events of one organization in a window, newest first, day partition by day partition
 * (only days listed in `auditdays`), page by page. Each page is one RowKey-range query inside one
 * partition; the cursor never holds more than one page. `maxRequests` bounds the table requests of
 * one call; the position where it stopped can be resumed.
 */
export class AuditCursor {
  private days: string[] | undefined;
  private dayIndex = 0;
  private pages: AsyncIterator<StoredRow[] & { continuationToken?: string }> | undefined;
  private buffer: StoredRow[] = [];
  private requests = 0;
  private consumed: ReadPosition | undefined;
  private scanned: ReadPosition | undefined;
  /** The lower bound the current day's query was opened with (part of a resumable position). */
  private dayFrom: { k?: string | undefined; i?: boolean | undefined } = {};
  private finished = false;

  constructor(
    private readonly app: AppContext,
    private readonly organizationId: string,
    private readonly window: AuditWindow,
    private readonly filters: AuditFilters,
    private readonly start: ReadPosition | undefined,
    private readonly options: { pageSize: number; maxRequests: number },
  ) {}

  /** Where a later call continues: after the last row handed out, or where scanning stopped. */
  position(): ReadPosition | undefined {
    if (this.buffer.length > 0) return this.consumed;
    return this.scanned ?? this.consumed ?? this.start;
  }

  async peek(): Promise<StoredRow | undefined | typeof BUDGET_EXHAUSTED> {
    while (this.buffer.length === 0) {
      if (this.finished) return undefined;
      if (this.requests >= this.options.maxRequests) return BUDGET_EXHAUSTED;
      await this.fetch();
    }
    return this.buffer[0];
  }

  async next(): Promise<StoredRow | undefined | typeof BUDGET_EXHAUSTED> {
    const row = await this.peek();
    if (row === undefined || row === BUDGET_EXHAUSTED) return row;
    this.buffer.shift();
    this.consumed = { d: dayOf(row), k: row.rowKey, i: false };
    return row;
  }

  private async fetch(): Promise<void> {
    if (!this.days) {
      this.days = await this.listDays();
      this.requests++;
      const { start } = this;
      if (start) this.dayIndex = this.days.findIndex((day) => day <= start.d);
      if (this.dayIndex < 0 || this.days.length === 0) {
        this.finished = true;
        return;
      }
    }
    const day = this.days[this.dayIndex];
    if (day === undefined) {
      this.finished = true;
      return;
    }
    if (!this.pages) this.pages = this.openDay(day);
    const result = await this.pages.next();
    this.requests++;
    if (result.done) {
      this.advanceDay();
      return;
    }
    const page = result.value;
    this.buffer.push(...page);
    // The service's continuation is opaque: resuming means the same query (same lower bound) plus it.
    if (page.continuationToken) this.scanned = { d: day, ...this.dayFrom, c: page.continuationToken };
    else this.advanceDay();
  }

  private advanceDay(): void {
    this.pages = undefined;
    this.dayIndex++;
    const next = this.days?.[this.dayIndex];
    if (next === undefined) {
      this.finished = true;
      this.scanned = undefined;
      return;
    }
    this.scanned = { d: next };
  }

  private async listDays(): Promise<string[]> {
    const first = dayKey(this.window.startMs);
    const last = dayKey(this.window.endMs);
    const days: string[] = [];
    const rows = auditDaysTable(this.app).listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${this.organizationId} and RowKey ge ${first} and RowKey le ${last}`, select: ['RowKey'] },
    });
    for await (const row of rows) if (row.rowKey) days.push(row.rowKey);
    return days.sort().reverse();
  }

  private openDay(day: string) {
    const partitionKey = partitionKeyOf(this.organizationId, day);
    const upper = rowKeyAtOrAfter(this.window.startMs);
    let lowerClause = odata`RowKey ge ${rowKeyAtOrBefore(this.window.endMs)}`;
    const resume = this.start && this.start.d === day ? this.start : undefined;
    this.dayFrom = {};
    if (resume?.k && resume.k >= rowKeyAtOrBefore(this.window.endMs)) {
      lowerClause = resume.i ? odata`RowKey ge ${resume.k}` : odata`RowKey gt ${resume.k}`;
      this.dayFrom = { k: resume.k, ...(resume.i ? { i: true } : {}) };
    }
    const clauses = [odata`PartitionKey eq ${partitionKey}`, lowerClause, odata`RowKey le ${upper < EVENT_END ? upper : EVENT_END}`];
    const { actionId, area, actor, projectId } = this.filters;
    if (actionId) clauses.push(odata`ActionId eq ${findAction(actionId)?.actionId ?? actionId}`);
    if (area) clauses.push(odata`Area eq ${area}`);
    if (projectId) clauses.push(odata`ProjectId eq ${projectId.toLowerCase()}`);
    if (actor) {
      clauses.push(
        isGuid(actor) ? odata`(ActorId eq ${actor.toLowerCase()} or ActorClientId eq ${actor.toLowerCase()})` : odata`ActorUpnLower eq ${actor.toLowerCase()}`,
      );
    }
    const pages = auditLogTable(this.app)
      .listEntities<AuditRow>({ queryOptions: { filter: clauses.join(' and ') } })
      .byPage({ maxPageSize: this.options.pageSize, ...(resume?.c ? { continuationToken: resume.c } : {}) });
    return pages[Symbol.asyncIterator]() as AsyncIterator<StoredRow[] & { continuationToken?: string }>;
  }
}

const dayOf = (row: { partitionKey: string }) => row.partitionKey.slice(row.partitionKey.lastIndexOf('|') + 1);

// ---- decorated entries ----------------------------------------------------------------------------

export interface DecoratedAuditLogEntry {
  id: string;
  correlationId: string;
  activityId: string;
  actorCUID?: string;
  actorUserId?: string;
  actorClientId?: string;
  actorUPN?: string;
  actorDisplayName: string;
  authenticationMechanism: string;
  timestamp: string;
  scopeType: string;
  scopeId: string;
  scopeDisplayName: string;
  projectId?: string;
  projectName?: string;
  ipAddress?: string;
  userAgent?: string;
  actionId: string;
  area: string;
  category: AuditCategory;
  categoryDisplayName: string;
  details: string;
  data: Record<string, unknown>;
}

function parseData(json: string): Record<string, unknown> {
  try {
    const value = JSON.parse(json) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export async function loadData(app: AppContext, row: StoredRow): Promise<Record<string, unknown>> {
  return parseData(await readRowData(app, row));
}

export function decorate(row: StoredRow, data: Record<string, unknown>): DecoratedAuditLogEntry {
  const category = (Object.hasOwn(CATEGORY_DISPLAY_NAMES, row.Category) ? row.Category : 'unknown') as AuditCategory;
  const isUser = row.ActorKind === 'user';
  const clientId = row.ActorKind === 'servicePrincipal' ? (row.ActorClientId ?? row.ActorId) : row.ActorClientId;
  const entry: DecoratedAuditLogEntry = {
    id: row.EventId,
    correlationId: row.CorrelationId,
    activityId: row.ActivityId,
    ...(isUser && isGuid(row.ActorId) ? { actorCUID: row.ActorId, actorUserId: row.ActorId } : {}),
    ...(clientId !== undefined && isGuid(clientId) ? { actorClientId: clientId.toLowerCase() } : {}),
    ...(row.ActorUpn ? { actorUPN: row.ActorUpn } : {}),
    actorDisplayName: row.ActorDisplayName,
    authenticationMechanism: row.AuthenticationMechanism,
    timestamp: row.EventTime,
    scopeType: row.ScopeType,
    scopeId: row.ScopeId,
    scopeDisplayName: row.ScopeType === 'project' && row.ProjectName ? `${row.ProjectName} (Project)` : `${row.OrganizationName} (Organization)`,
    ...(row.ProjectId ? { projectId: row.ProjectId } : {}),
    ...(row.ProjectName ? { projectName: row.ProjectName } : {}),
    ...(row.IpAddress ? { ipAddress: row.IpAddress } : {}),
    ...(row.UserAgent ? { userAgent: row.UserAgent } : {}),
    actionId: row.ActionId,
    area: row.Area,
    category,
    categoryDisplayName: CATEGORY_DISPLAY_NAMES[category],
    details: renderDetails({ actionId: row.ActionId, area: row.Area, projectName: row.ProjectName, projectId: row.ProjectId }, data),
    data,
  };
  return entry;
}

// ---- the query ------------------------------------------------------------------------------------

export const ACCESS_LOG_ACTION = 'AuditLog.AccessLog';
/** At most this many access events fold into one aggregated entry. */
const MAX_AGGREGATE = 1000;
/** Table requests one query call may spend before it answers with what it has (and hasMore). */
const MAX_REQUESTS_PER_QUERY = 25;

export interface AuditQueryInput {
  readonly organizationId: string;
  readonly retentionDays: number;
  readonly startTime?: string | undefined;
  readonly endTime?: string | undefined;
  readonly batchSize: number;
  readonly continuationToken?: string | undefined;
  readonly skipAggregation: boolean;
  readonly filters: AuditFilters;
}

export interface AuditLogQueryResult {
  decoratedAuditLogEntries: DecoratedAuditLogEntry[];
  continuationToken?: string;
  hasMore: boolean;
}

function fingerprint(input: AuditQueryInput): string {
  const { actionId, area, actor, projectId } = input.filters;
  const canonical = JSON.stringify([
    actionId ? (findAction(actionId)?.actionId ?? actionId) : null,
    area ?? null,
    actor?.toLowerCase() ?? null,
    projectId?.toLowerCase() ?? null,
    input.skipAggregation,
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

const sameHour = (a: string, b: string) => a.slice(0, 13) === b.slice(0, 13);

/**
 * One page of the log, newest first. Access events (AuditLog.AccessLog) of one actor within one UTC
 * hour that follow each other fold into one entry ("Accessed the audit log N times", with
 * `data.EventSummary`) unless `skipAggregation` is set.
 */
export async function queryAuditLog(app: AppContext, input: AuditQueryInput): Promise<AuditLogQueryResult> {
  const print = fingerprint(input);
  let window: AuditWindow;
  let start: ReadPosition | undefined;
  if (input.continuationToken) {
    const token = openContinuation(app, input.continuationToken, input.organizationId);
    if (token.f !== print) {
      throw badRequest('continuationTokenMismatch', 'The continuation token belongs to a query with other filters.');
    }
    if ((input.startTime && parseTime(input.startTime) !== token.s) || (input.endTime && parseTime(input.endTime) !== token.e)) {
      throw badRequest('continuationTokenMismatch', 'Send the continuation token with the same time window as the first request.');
    }
    window = { startMs: token.s, endMs: token.e };
    start = token.p;
  } else {
    window = resolveWindow(app.clock.now().getTime(), input.retentionDays, input.startTime, input.endTime);
  }

  const cursor = new AuditCursor(app, input.organizationId, window, input.filters, start, {
    pageSize: Math.min(1000, input.batchSize + 1),
    maxRequests: MAX_REQUESTS_PER_QUERY,
  });
  const groups: StoredRow[][] = [];
  let exhausted = false;
  while (groups.length < input.batchSize) {
    const row = await cursor.next();
    if (row === BUDGET_EXHAUSTED) {
      exhausted = true;
      break;
    }
    if (!row) break;
    const group = [row];
    if (!input.skipAggregation && row.ActionId === ACCESS_LOG_ACTION) {
      while (group.length < MAX_AGGREGATE) {
        const next = await cursor.peek();
        if (!next || next === BUDGET_EXHAUSTED) break;
        if (next.ActionId !== ACCESS_LOG_ACTION || next.ActorId !== row.ActorId || !sameHour(next.EventTime, row.EventTime)) break;
        await cursor.next();
        group.push(next);
      }
    }
    groups.push(group);
  }
  const after = exhausted ? BUDGET_EXHAUSTED : await cursor.peek();
  const hasMore = after !== undefined;
  const position = cursor.position() ?? { d: dayKey(window.endMs) };

  const entries = await mapLimit(groups, 8, async (group) => {
    const [first] = group as [StoredRow, ...StoredRow[]];
    const entry = decorate(first, await loadData(app, first));
    if (group.length > 1) {
      entry.details = `Accessed the audit log ${group.length} times`;
      entry.data = { ...entry.data, EventSummary: group.map((row) => row.EventTime) };
    }
    return entry;
  });

  const result: AuditLogQueryResult = { decoratedAuditLogEntries: entries, hasMore };
  if (hasMore) {
    result.continuationToken = signContinuation(app, {
      v: 1,
      o: input.organizationId,
      s: window.startMs,
      e: window.endMs,
      f: print,
      p: { d: position.d, ...(position.k ? { k: position.k } : {}), ...(position.i ? { i: true } : {}), ...(position.c ? { c: position.c } : {}) },
    });
  }
  return result;
}

export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  });
  await Promise.all(workers);
  return results;
}
