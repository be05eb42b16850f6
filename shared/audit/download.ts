import type { AppContext } from '../app-context.js';
import { AuditCursor, BUDGET_EXHAUSTED, decorate, loadData, mapLimit, type AuditWindow, type DecoratedAuditLogEntry, type StoredRow } from './query.js';

/**
 * The log download: a ReadableStream that reads one table page (≤ 1000 events) at a time and writes
 * it out before reading the next, so memory holds one page whatever the window. Entries are never
 * aggregated in a download.
 */
export type DownloadFormat = 'json' | 'csv';

/** Azure DevOps' CSV export columns, in its order. */
export const CSV_COLUMNS = [
  'Id',
  'CorrelationId',
  'ActivityId',
  'ActorCUID',
  'ActorUserId',
  'ActorClientId',
  'ActorUPN',
  'AuthenticationMechanism',
  'Timestamp',
  'ScopeType',
  'ScopeDisplayName',
  'ScopeId',
  'ProjectId',
  'ProjectName',
  'IpAddress',
  'UserAgent',
  'ActionId',
  'Data',
  'Details',
  'Area',
  'Category',
  'CategoryDisplayName',
  'ActorDisplayName',
] as const;

const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field per RFC 4180: quoted when it holds a comma, quote, CR or LF, quotes doubled. A value
 * a spreadsheet would run as a formula (starting with = + - @, tab or CR) gets a leading `'`.
 */
export function csvField(value: unknown): string {
  if (value === undefined || value === null) return '';
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- what is neither text nor an object is a number or a boolean
  let text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(entry: DecoratedAuditLogEntry): string {
  const values: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    Id: entry.id,
    CorrelationId: entry.correlationId,
    ActivityId: entry.activityId,
    ActorCUID: entry.actorCUID,
    ActorUserId: entry.actorUserId,
    ActorClientId: entry.actorClientId,
    ActorUPN: entry.actorUPN,
    AuthenticationMechanism: entry.authenticationMechanism,
    Timestamp: entry.timestamp,
    ScopeType: entry.scopeType,
    ScopeDisplayName: entry.scopeDisplayName,
    ScopeId: entry.scopeId,
    ProjectId: entry.projectId,
    ProjectName: entry.projectName,
    IpAddress: entry.ipAddress,
    UserAgent: entry.userAgent,
    ActionId: entry.actionId,
    Data: entry.data,
    Details: entry.details,
    Area: entry.area,
    Category: entry.category,
    CategoryDisplayName: entry.categoryDisplayName,
    ActorDisplayName: entry.actorDisplayName,
  };
  return `${CSV_COLUMNS.map((column) => csvField(values[column])).join(',')}\r\n`;
}

const PAGE_SIZE = 1000;

export function downloadStream(app: AppContext, organizationId: string, window: AuditWindow, format: DownloadFormat): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const cursor = new AuditCursor(app, organizationId, window, {}, undefined, { pageSize: PAGE_SIZE, maxRequests: Number.POSITIVE_INFINITY });
  let started = false;
  let count = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          let text = '';
          if (!started) {
            started = true;
            text += format === 'csv' ? `${CSV_COLUMNS.join(',')}\r\n` : '[';
          }
          const rows: StoredRow[] = [];
          while (rows.length < PAGE_SIZE) {
            const row = await cursor.next();
            if (!row || row === BUDGET_EXHAUSTED) break;
            rows.push(row);
          }
          const entries = await mapLimit(rows, 8, async (row) => decorate(row, await loadData(app, row)));
          for (const entry of entries) {
            text += format === 'csv' ? csvRow(entry) : `${count === 0 ? '' : ','}\n${JSON.stringify(entry)}`;
            count++;
          }
          const done = rows.length < PAGE_SIZE && (await cursor.peek()) === undefined;
          if (done && format === 'json') text += count === 0 ? ']' : '\n]';
          if (text) controller.enqueue(encoder.encode(text));
          if (done) controller.close();
        } catch (error) {
          app.log.error('audit download failed', { organizationId, error: error instanceof Error ? error.message.slice(0, 300) : 'unknown' });
          controller.error(error);
        }
      },
    },
    { highWaterMark: 1 },
  );
}
