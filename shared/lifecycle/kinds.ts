import type { AppContext } from '../app-context.js';
import type { Organization } from '../directory/repository.js';
import type { DirectoryCache } from './directory-cache.js';

/**
 * One "expirable kind" per expiry index table. The lifecycle timer only knows this interface: the
 * sweep walks the kind's index (`PK = yyyyMMddHH` of the due time, `RK = zero-padded epoch ms + '_' +
 * id`, columns ownerId and authorizationId) and asks the kind to finalise each due entry; the reminder
 * ladder and the .ics feed ask it to describe items.
 */
export type ItemKind = 'pat' | 'sshKey';

/** One row of an expiry index, parsed. */
export interface IndexEntry {
  readonly partitionKey: string;
  readonly rowKey: string;
  /** The instant the row is due (from the row key). */
  readonly dueMs: number;
  readonly ownerId: string;
  readonly id: string;
  /** A purge entry (see purgeEffect in shared/storage/expiry-keys.ts): the row to delete once due, instead of an item to finalise. */
  readonly purge?: { readonly table: string; readonly partitionKey: string; readonly rowKey: string };
}

/**
 * What finalising an entry did. Every outcome but `failed` means the entry is done with and its index
 * row may be deleted: `expired` (this call marked the item and wrote its event), `alreadyDone` (a
 * concurrent or earlier run did, or the item was revoked), `gone` (no record), `stale` (the record's
 * due times moved; its current row is elsewhere in the index), `graceEnded` (a rotation grace window
 * was closed).
 */
export type FinaliseOutcome = 'expired' | 'alreadyDone' | 'gone' | 'stale' | 'graceEnded';

/** What reminders, the .ics feed and messages need to know about an item. */
export interface ExpiringItem {
  readonly kind: ItemKind;
  readonly id: string;
  readonly ownerId: string;
  readonly name: string;
  readonly organizationId: string;
  readonly validFrom: string;
  readonly validTo: string;
  /** Not revoked (expiry is judged against validTo by the caller). */
  readonly live: boolean;
}

/** The item of a PAT or SSH key record (both keep these fields under the same names). */
export function expiringItemOf(
  kind: ItemKind,
  record: {
    authorizationId: string;
    ownerId: string;
    displayName: string;
    organizationId: string;
    validFrom: string;
    validTo: string;
    revokedAt: string | null;
  },
): ExpiringItem {
  return {
    kind,
    id: record.authorizationId,
    ownerId: record.ownerId,
    name: record.displayName,
    organizationId: record.organizationId,
    validFrom: record.validFrom,
    validTo: record.validTo,
    live: !record.revokedAt,
  };
}

/**
 * What one lifecycle run counted. `entitiesRead` (computed by `entitiesRead()`) is every entity the run
 * read from storage: it grows with the number of due items and buckets, never with the number of
 * tokens or keys that exist (the benchmark prints it).
 */
export interface LifecycleCounters {
  /** Cursor, registry and settings rows (a few per run). */
  stateReads: number;
  /** Rows returned by the "next non-empty bucket" seeks (one per bucket visited, plus one). */
  seekRows: number;
  /** Expiry index rows returned by bucket and reminder-window range queries. */
  indexRowsRead: number;
  /** Token and key records read (point reads). */
  itemsRead: number;
  /** Organization, user and organization-settings look-ups (cached per run). */
  directoryReads: number;
  bucketsVisited: number;
  expired: number;
  alreadyDone: number;
  gone: number;
  stale: number;
  graceEnded: number;
  failed: number;
  indexRowsDeleted: number;
  remindersQueued: number;
  remindersSkipped: number;
  /** The per-run item budget ran out; the next run resumes. */
  budgetExhausted: boolean;
}

export function newCounters(): LifecycleCounters {
  return {
    stateReads: 0,
    seekRows: 0,
    indexRowsRead: 0,
    itemsRead: 0,
    directoryReads: 0,
    bucketsVisited: 0,
    expired: 0,
    alreadyDone: 0,
    gone: 0,
    stale: 0,
    graceEnded: 0,
    failed: 0,
    indexRowsDeleted: 0,
    remindersQueued: 0,
    remindersSkipped: 0,
    budgetExhausted: false,
  };
}

export const entitiesRead = (c: LifecycleCounters) => c.stateReads + c.seekRows + c.indexRowsRead + c.itemsRead + c.directoryReads;

/** One run's counters and caches, handed to the kinds. */
export interface RunScope {
  readonly counters: LifecycleCounters;
  readonly directory: DirectoryCache;
}

export interface ExpirableKind {
  readonly kind: ItemKind;
  /** The expiry index table (same layout as `patexpiry`). */
  readonly indexTable: string;
  /** Marks the item of a due entry as expired (exactly once) or ends its grace window. */
  finalise(app: AppContext, entry: IndexEntry, now: Date, scope: RunScope): Promise<{ outcome: FinaliseOutcome; item?: ExpiringItem }>;
  /** The item behind an index entry; undefined when it no longer exists. */
  describe(app: AppContext, ownerId: string, id: string, scope: RunScope): Promise<ExpiringItem | undefined>;
  /** The owner's items visible in an organization (for the .ics feed). */
  listForOwner(app: AppContext, ownerId: string, organizationId: string): Promise<ExpiringItem[]>;
  /** Plain-text instructions to renew or rotate the item, for messages and calendar entries. */
  renewalHelp(item: ExpiringItem, organization: Pick<Organization, 'name'>): string;
  /** Human name of the kind ("personal access token", "SSH key"). */
  readonly label: string;
}
