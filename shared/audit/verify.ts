import { odata } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import { readEntity } from '../storage/entities.js';
import { chainHash, genesisHash, sha256Hex } from './chain.js';
import type { AuditWindow } from './query.js';
import {
  EVENT_END,
  EVENT_PREFIX,
  HEAD_ROW_KEY,
  auditDaysTable,
  auditLogTable,
  dayKey,
  eventRowKey,
  partitionKeyOf,
  readRowData,
  type AuditRow,
  type ChainHeadRow,
} from './repository.js';
import { chainContentOf } from './writer.js';

/**
 * Recomputes the hash chains of the day partitions a window touches (whole days: a chain covers its
 * day) and reports the first broken link. Memory per day is a few fields per event.
 */
export type BrokenLinkReason =
  | 'missingChainHead'
  | 'hashMismatch'
  | 'dataMismatch'
  | 'keyMismatch'
  | 'sequenceGap'
  | 'duplicateSequence'
  | 'previousHashMismatch'
  | 'headMismatch';

export interface BrokenLink {
  day: string;
  reason: BrokenLinkReason;
  sequence: number | null;
  eventId: string | null;
  message: string;
}

export interface VerifyResult {
  intact: boolean;
  startTime: string;
  endTime: string;
  daysChecked: number;
  eventsChecked: number;
  chains: { day: string; events: number; headHash: string | null }[];
  firstBrokenLink: BrokenLink | null;
}

interface Link {
  seq: number;
  eventId: string;
  prevHash: string;
  hash: string;
  problem?: { reason: BrokenLinkReason; message: string };
}

export async function verifyAuditChains(app: AppContext, organizationId: string, window: AuditWindow): Promise<VerifyResult> {
  const first = dayKey(window.startMs);
  const last = dayKey(window.endMs);
  const days: string[] = [];
  for await (const row of auditDaysTable(app).listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${organizationId} and RowKey ge ${first} and RowKey le ${last}`, select: ['RowKey'] },
  })) {
    if (row.rowKey) days.push(row.rowKey);
  }
  days.sort();

  const result: VerifyResult = {
    intact: true,
    startTime: new Date(window.startMs).toISOString(),
    endTime: new Date(window.endMs).toISOString(),
    daysChecked: 0,
    eventsChecked: 0,
    chains: [],
    firstBrokenLink: null,
  };
  for (const day of days) {
    const outcome = await verifyDay(app, organizationId, day);
    result.daysChecked++;
    result.eventsChecked += outcome.events;
    result.chains.push({ day, events: outcome.events, headHash: outcome.headHash });
    if (outcome.broken && !result.firstBrokenLink) {
      result.firstBrokenLink = outcome.broken;
      result.intact = false;
    }
  }
  return result;
}

async function verifyDay(
  app: AppContext,
  organizationId: string,
  day: string,
): Promise<{ events: number; headHash: string | null; broken: BrokenLink | undefined }> {
  const partitionKey = partitionKeyOf(organizationId, day);
  const table = auditLogTable(app);
  const links: Link[] = [];
  let broken: BrokenLink | undefined;
  const fail = (reason: BrokenLinkReason, link: Partial<Link>, message: string) => {
    broken ??= { day, reason, sequence: link.seq ?? null, eventId: link.eventId ?? null, message };
  };

  // The head first: events appended while the rows are read (the verify call's own access event, say)
  // come after it and are left for the next check, so a live log never looks broken.
  const head = await readEntity<ChainHeadRow>(table, partitionKey, HEAD_ROW_KEY);
  const coveredSeq = head ? Number(head.Seq) : Number.POSITIVE_INFINITY;
  const rows = table.listEntities<AuditRow>({
    queryOptions: { filter: odata`PartitionKey eq ${partitionKey} and RowKey ge ${EVENT_PREFIX} and RowKey lt ${EVENT_END}` },
  });
  for await (const row of rows) {
    const link: Link = { seq: Number(row.Seq), eventId: String(row.EventId), prevHash: String(row.PrevHash), hash: String(row.Hash) };
    if (link.seq > coveredSeq) continue;
    links.push(link);
    link.problem = await checkRow(app, organizationId, day, row);
  }

  // Walk the chain in sequence order: the first problem met is the first broken link.
  links.sort((a, b) => a.seq - b.seq);
  let previous = genesisHash(partitionKey);
  for (const [index, link] of links.entries()) {
    if (link.seq !== index + 1) {
      fail(link.seq === index ? 'duplicateSequence' : 'sequenceGap', link, `Expected sequence ${index + 1}, found ${link.seq}: events are missing or were added.`);
      break;
    }
    if (link.problem) {
      fail(link.problem.reason, link, link.problem.message);
      break;
    }
    if (link.prevHash !== previous) {
      fail('previousHashMismatch', link, 'The event does not link to the event before it.');
      break;
    }
    previous = link.hash;
  }

  if (!head) {
    if (links.length > 0) fail('missingChainHead', {}, 'The chain head of the day is missing.');
    else fail('missingChainHead', {}, 'The day is listed but its events and chain head are gone.');
  } else if (Number(head.Seq) !== links.length || head.Hash !== (links.at(-1)?.hash ?? '')) {
    const lastLink = links.at(-1);
    fail('headMismatch', lastLink ?? {}, `The chain head records ${head.Seq} events; ${links.length} are stored.`);
  }
  return { events: links.length, headHash: head?.Hash ?? null, broken };
}

async function checkRow(app: AppContext, organizationId: string, day: string, row: AuditRow): Promise<Link['problem']> {
  const ms = Date.parse(row.EventTime);
  if (row.rowKey !== eventRowKey(ms, row.EventId) || dayKey(ms) !== day || row.OrganizationId !== organizationId) {
    return { reason: 'keyMismatch', message: 'The row is not where its timestamp, event id and organization place it.' };
  }
  let data: string;
  try {
    data = await readRowData(app, row);
  } catch {
    return { reason: 'dataMismatch', message: 'The event data cannot be read.' };
  }
  if (sha256Hex(data) !== row.DataSha256 || data.length !== row.DataLength) {
    return { reason: 'dataMismatch', message: 'The event data does not match its recorded digest.' };
  }
  if (chainHash(row.PrevHash, chainContentOf(row)) !== row.Hash) {
    return { reason: 'hashMismatch', message: 'The event was changed after it was written: its content does not match its hash.' };
  }
  return undefined;
}
