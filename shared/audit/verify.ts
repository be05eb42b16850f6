import { odata } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import { readEntity } from '../storage/entities.js';
import { chainHash, genesisHash, sha256Hex } from './chain.js';
import { NO_CHECKPOINTS, checkpointedDays, readDayCheckpoints, type DayCheckpoints, type StoredCheckpoint } from './checkpoints.js';
import type { AuditWindow } from './query.js';
import {
  EVENT_END,
  EVENT_PREFIX,
  HEAD_ROW_KEY,
  auditDaysTable,
  auditLogTable,
  dayKey,
  eventRowKey,
  firstRetainedDay,
  getAuditSettings,
  partitionKeyOf,
  readRowData,
  type AuditRow,
  type ChainHeadRow,
} from './repository.js';
import { chainContentOf } from './writer.js';

/**
 * Recomputes the hash chains of the day partitions a window touches (whole days: a chain covers its
 * day), compares them with every signed checkpoint of those days (checkpoints.ts) and reports the
 * first broken link. Memory per day is a few fields per event.
 */
export const BROKEN_LINK_REASONS = [
  'missingChainHead',
  'hashMismatch',
  'dataMismatch',
  'keyMismatch',
  'sequenceGap',
  'duplicateSequence',
  'previousHashMismatch',
  'headMismatch',
  /** A row no chain head covers: added outside the writer. */
  'eventBeyondHead',
  /** The head (or the day) is shorter than a checkpoint proves it was: events removed or the head moved back. */
  'headBehindCheckpoint',
  /** A checkpointed link has another hash now: events rewritten and the chain recomputed. */
  'checkpointMismatch',
  /** A blob among the day's checkpoints that Gatehouse did not sign: forged or altered. */
  'checkpointInvalid',
] as const;

export type BrokenLinkReason = (typeof BROKEN_LINK_REASONS)[number];

export interface BrokenLink {
  day: string;
  reason: BrokenLinkReason;
  sequence: number | null;
  eventId: string | null;
  message: string;
}

export interface ChainResult {
  day: string;
  events: number;
  headHash: string | null;
  /** The highest sequence of the day a valid checkpoint vouches for, and when that checkpoint was written. */
  checkpointedSequence: number | null;
  checkpointedAt: string | null;
}

/** What the checkpoints prove about the window. */
export interface CheckpointCoverage {
  /** False when blob storage is not configured: nothing is anchored and only the chains were checked. */
  available: boolean;
  /** Valid checkpoints compared with the chains. */
  checked: number;
  /** Checkpoints signed under a pepper version that is no longer configured (neither trusted nor refuted). */
  unverifiable: number;
  /** When the newest valid checkpoint of the window was written. */
  latestCheckpointTime: string | null;
  /** Events at or below their day's highest valid checkpoint: changing, removing or adding them is detected. */
  eventsCovered: number;
  /** Events above it: protected by the hash chain alone until the next checkpoint. */
  eventsNotCovered: number;
}

export interface VerifyResult {
  intact: boolean;
  startTime: string;
  endTime: string;
  daysChecked: number;
  eventsChecked: number;
  chains: ChainResult[];
  firstBrokenLink: BrokenLink | null;
  checkpointCoverage: CheckpointCoverage;
}

interface Link {
  seq: number;
  eventId: string;
  prevHash: string;
  hash: string;
  problem?: { reason: BrokenLinkReason; message: string };
}

export interface DayVerification {
  events: number;
  /** The chain head the check covered (read before the rows), if any. */
  head: { seq: number; hash: string } | null;
  broken: BrokenLink | undefined;
  checkpoints: DayCheckpoints | undefined;
  /** The highest valid checkpoint of the day. */
  latest: StoredCheckpoint | undefined;
}

export async function verifyAuditChains(app: AppContext, organizationId: string, window: AuditWindow): Promise<VerifyResult> {
  const first = dayKey(window.startMs);
  const last = dayKey(window.endMs);
  const listed = new Set<string>();
  for await (const row of auditDaysTable(app).listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${organizationId} and RowKey ge ${first} and RowKey le ${last}`, select: ['RowKey'] },
  })) {
    if (row.rowKey) listed.add(row.rowKey);
  }
  // A retained day that was checkpointed is checked even when its index row is gone with its events.
  // Days without checkpoints (one listing of the organization's day prefixes says which) skip their
  // own listing; a day's first checkpoint written after that listing is newer than this check.
  const { retentionDays } = await getAuditSettings(app, organizationId);
  const retainedFrom = firstRetainedDay(app.clock.now().getTime(), retentionDays);
  const anchoredDays = await checkpointedDays(app, organizationId);
  for (const day of anchoredDays ?? []) if (day >= first && day <= last && day >= retainedFrom) listed.add(day);
  const days = [...listed].sort();

  const coverage: CheckpointCoverage = {
    available: app.storage.blobConfigured,
    checked: 0,
    unverifiable: 0,
    latestCheckpointTime: null,
    eventsCovered: 0,
    eventsNotCovered: 0,
  };
  const result: VerifyResult = {
    intact: true,
    startTime: new Date(window.startMs).toISOString(),
    endTime: new Date(window.endMs).toISOString(),
    daysChecked: 0,
    eventsChecked: 0,
    chains: [],
    firstBrokenLink: null,
    checkpointCoverage: coverage,
  };
  for (const day of days) {
    const outcome = await verifyDay(app, organizationId, day, anchoredDays?.has(day) === false ? { checkpoints: NO_CHECKPOINTS } : undefined);
    result.daysChecked++;
    result.eventsChecked += outcome.events;
    const covered = Math.min(outcome.latest?.sequence ?? 0, outcome.events);
    result.chains.push({
      day,
      events: outcome.events,
      headHash: outcome.head?.hash ?? null,
      checkpointedSequence: outcome.latest?.sequence ?? null,
      checkpointedAt: outcome.latest?.createdAt ?? null,
    });
    coverage.checked += outcome.checkpoints?.valid.length ?? 0;
    coverage.unverifiable += outcome.checkpoints?.unverifiable ?? 0;
    coverage.eventsCovered += covered;
    coverage.eventsNotCovered += outcome.events - covered;
    for (const checkpoint of outcome.checkpoints?.valid ?? []) {
      if (checkpoint.createdAt && (!coverage.latestCheckpointTime || checkpoint.createdAt > coverage.latestCheckpointTime)) {
        coverage.latestCheckpointTime = checkpoint.createdAt;
      }
    }
    if (outcome.broken && !result.firstBrokenLink) {
      result.firstBrokenLink = outcome.broken;
      result.intact = false;
    }
  }
  return result;
}

/**
 * Checks one day: its chain, its head, and its checkpoints (read first unless given). The checkpoints
 * are read before the head and the head before the rows, so whatever a live writer appends meanwhile
 * (the verify call's own access event, say) is newer than all three and never looks like tampering.
 */
export async function verifyDay(
  app: AppContext,
  organizationId: string,
  day: string,
  given?: { checkpoints: DayCheckpoints | undefined },
): Promise<DayVerification> {
  const checkpoints = given ? given.checkpoints : await readDayCheckpoints(app, organizationId, day);
  const partitionKey = partitionKeyOf(organizationId, day);
  const table = auditLogTable(app);
  const links: Link[] = [];
  const beyondHead: Link[] = [];
  let broken: BrokenLink | undefined;
  const fail = (reason: BrokenLinkReason, link: Partial<Link>, message: string) => {
    broken ??= { day, reason, sequence: link.seq ?? null, eventId: link.eventId ?? null, message };
  };

  const head = await readEntity<ChainHeadRow>(table, partitionKey, HEAD_ROW_KEY);
  const coveredSeq = head ? Number(head.Seq) : Number.POSITIVE_INFINITY;
  const rows = table.listEntities<AuditRow>({
    queryOptions: { filter: odata`PartitionKey eq ${partitionKey} and RowKey ge ${EVENT_PREFIX} and RowKey lt ${EVENT_END}` },
  });
  for await (const row of rows) {
    const link: Link = { seq: Number(row.Seq), eventId: String(row.EventId), prevHash: String(row.PrevHash), hash: String(row.Hash) };
    if (link.seq > coveredSeq) {
      beyondHead.push(link);
      continue;
    }
    links.push(link);
    link.problem = await checkRow(app, organizationId, day, row);
  }

  // Walk the chain in sequence order: the first problem met is the first broken link.
  links.sort((a, b) => a.seq - b.seq);
  let previous = genesisHash(partitionKey);
  for (const [index, link] of links.entries()) {
    if (link.seq !== index + 1) {
      fail(
        link.seq === index ? 'duplicateSequence' : 'sequenceGap',
        link,
        `Expected sequence ${index + 1}, found ${link.seq}: events are missing or were added.`,
      );
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

  const valid = checkpoints?.valid ?? [];
  const latest = valid.at(-1);
  if (!head) {
    if (links.length > 0) fail('missingChainHead', {}, 'The chain head of the day is missing.');
    else if (latest)
      fail('headBehindCheckpoint', {}, `A checkpoint of ${when(latest)} proves ${latest.sequence} events of this day; its events and chain head are gone.`);
    else fail('missingChainHead', {}, 'The day is listed but its events and chain head are gone.');
  } else if (Number(head.Seq) !== links.length || head.Hash !== (links.at(-1)?.hash ?? '')) {
    const lastLink = links.at(-1);
    fail('headMismatch', lastLink ?? {}, `The chain head records ${head.Seq} events; ${links.length} are stored.`);
  }

  // Every checkpoint must still hold: its link exists and has the hash it had when it was signed.
  if (head) {
    for (const checkpoint of valid) {
      if (checkpoint.sequence > Number(head.Seq)) {
        fail(
          'headBehindCheckpoint',
          links.at(-1) ?? {},
          `The chain head records ${head.Seq} events, but a checkpoint of ${when(checkpoint)} proves ${checkpoint.sequence}: events were removed or the head was moved back.`,
        );
        break;
      }
      const link = links[checkpoint.sequence - 1];
      if (link?.seq === checkpoint.sequence && link.hash !== checkpoint.headHash) {
        fail(
          'checkpointMismatch',
          link,
          `The chain up to this event differs from the checkpoint of ${when(checkpoint)}: this event or one before it was rewritten or replaced, and the hashes recomputed.`,
        );
        break;
      }
    }
  }

  // Rows beyond the head read first are either appended since (the head has moved on with them, in
  // the same transaction) or rows no head covers: read the head again to tell which.
  if (head && beyondHead.length > 0) {
    const now = await readEntity<ChainHeadRow>(table, partitionKey, HEAD_ROW_KEY);
    const uncovered = beyondHead.filter((link) => !now || link.seq > Number(now.Seq)).sort((a, b) => a.seq - b.seq);
    const first = uncovered[0];
    if (first) fail('eventBeyondHead', first, `The event lies beyond the chain head (${now?.Seq ?? 'none'} events): it was added outside the writer.`);
  }

  const invalid = checkpoints?.invalid[0];
  if (invalid) {
    fail(
      'checkpointInvalid',
      { seq: invalid.sequence ?? undefined },
      `The checkpoint container holds a blob for this day that ${invalid.problem}: checkpoints were forged or altered.`,
    );
  }

  return {
    events: links.length,
    head: head ? { seq: Number(head.Seq), hash: String(head.Hash) } : null,
    broken,
    checkpoints,
    latest,
  };
}

const when = (checkpoint: StoredCheckpoint) => checkpoint.createdAt ?? 'unknown time';

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
