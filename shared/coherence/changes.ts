import { randomUUID } from 'node:crypto';
import { odata, type TableClient } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import { restErrorStatus } from '../http/errors.js';
import { errorMessage } from '../logging.js';
import { TABLES } from '../storage/names.js';

/**
 * Cache coherence across instances: a change feed in Table Storage.
 *
 * Every instance keeps what authentication reads on each request in memory (PAT snapshots,
 * revocation rules, policies, memberships, organizations). A write on one instance drops its own
 * entries at once and appends one row per changed key to the `changes` table; every instance reads
 * the rows of the last few seconds every CHANGE_FEED_POLL_MS (500 ms) and drops the entries they
 * name. A revocation, rule, policy change or membership removal made anywhere is therefore refused
 * everywhere within one poll interval plus a storage round trip, while the caches stay on.
 *
 * Cost per instance: one table query per poll interval (2 reads/s at 500 ms), each returning the
 * changes of the last WINDOW_MS (usually none; a page for a burst); one insert per changed key on the
 * writing instance; a clean-up query every minute. If the feed cannot be read for longer than the
 * window, the instance empties every coherent cache: it then reads storage until the feed is back,
 * and never serves a decision older than the window.
 */
export type ChangeScope = 'pat' | 'rules' | 'policies' | 'membership' | 'organization';

const SCOPES: readonly ChangeScope[] = ['pat', 'rules', 'policies', 'membership', 'organization'];
const PARTITION = 'changes';
/** Each poll re-reads this much of the past: rows committed late or by an instance whose clock lags. */
const WINDOW_MS = 5_000;
/** Rows are kept this long, then deleted by whichever instance cleans up first. */
const RETENTION_MS = 10 * 60_000;
const CLEANUP_EVERY_MS = 60_000;

/** Drops an entry (or with `key` undefined, every entry) of a cache of this scope, in one app. */
export type CacheDropper = (app: AppContext, key: string | undefined) => void;

const droppers = new Map<ChangeScope, Set<CacheDropper>>();

/** A cache owner says how to drop its entries when the feed reports a change made elsewhere. */
export function onRemoteChange(scope: ChangeScope, drop: CacheDropper): void {
  let set = droppers.get(scope);
  if (!set) droppers.set(scope, (set = new Set()));
  set.add(drop);
}

const feeds = new Set<ChangeFeed>();

/**
 * Tells the other instances that `key` of `scope` changed here (after this instance dropped its own
 * entry). The caller awaits the row before it answers, so an instance that stops right after a
 * revocation cannot leave the others unaware. If the row cannot be written, the change stays
 * committed and the others drop their entry when it reaches its TTL (the cache settings).
 */
export async function announceChange(scope: ChangeScope, key: string): Promise<void> {
  await Promise.all([...feeds].map((feed) => feed.publish(scope, key)));
}

const rowKeyAt = (ms: number) => String(Math.max(0, Math.floor(ms))).padStart(15, '0');

export class ChangeFeed {
  private readonly seen = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private lastReadAt = Date.now();
  private lastCleanupAt = Date.now() - Math.random() * CLEANUP_EVERY_MS;
  private failing = false;
  private polling: Promise<void> | undefined;
  /** Storage reads this feed made (for the bench's cost figure). */
  reads = 0;

  constructor(
    private readonly app: AppContext,
    private readonly intervalMs: number,
  ) {}

  private get table(): TableClient {
    return this.app.storage.table(TABLES.changes);
  }

  start(): void {
    feeds.add(this);
    this.lastReadAt = Date.now();
    // Polls start every interval, not an interval after the last poll ended: a slow read (a loaded
    // instance, a busy account) must not stretch the propagation bound by its own duration.
    const tick = () => {
      const startedAt = Date.now();
      this.polling = this.poll().finally(() => {
        this.polling = undefined;
        if (feeds.has(this)) {
          this.timer = setTimeout(tick, Math.max(0, startedAt + this.intervalMs - Date.now()));
          this.timer.unref();
        }
      });
    };
    this.timer = setTimeout(tick, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    feeds.delete(this);
    clearTimeout(this.timer);
    await this.polling;
  }

  async publish(scope: ChangeScope, key: string): Promise<void> {
    const rowKey = `${rowKeyAt(Date.now())}_${randomUUID()}`;
    // Our own change is already applied here: do not drop it again when the poll reads it back.
    this.seen.set(rowKey, Date.now());
    try {
      await this.table.createEntity({ partitionKey: PARTITION, rowKey, scope, key });
    } catch (error) {
      this.app.log.error('a change could not be announced to the other instances; they keep it until their cache entry expires', {
        scope,
        error: error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 300) : 'unknown',
      });
    }
  }

  /** Reads the rows of the last window and drops the cache entries of those not seen yet. */
  async poll(): Promise<void> {
    const startedAt = Date.now();
    const from = rowKeyAt(startedAt - WINDOW_MS);
    try {
      const rows = this.table.listEntities<{ scope: string; key: string }>({
        queryOptions: { filter: odata`PartitionKey eq ${PARTITION} and RowKey ge ${from}`, select: ['RowKey', 'scope', 'key'] },
      });
      for await (const page of rows.byPage({ maxPageSize: 1000 })) {
        this.reads++;
        for (const row of page) {
          const rowKey = row.rowKey ?? '';
          if (this.seen.has(rowKey)) continue;
          this.seen.set(rowKey, startedAt);
          if (SCOPES.includes(row.scope as ChangeScope)) this.drop(row.scope as ChangeScope, row.key);
        }
      }
      if (startedAt - this.lastReadAt > WINDOW_MS - this.intervalMs) this.dropAll();
      this.lastReadAt = startedAt;
      this.failing = false;
    } catch (error) {
      if (restErrorStatus(error) === 404) await this.app.storage.tableService.createTable(TABLES.changes).catch(() => undefined);
      if (!this.failing) this.app.log.warn('change feed unreadable: caches are bypassed until it is back', { error: errorMessage(error).slice(0, 200) });
      this.failing = true;
      this.dropAll();
    }
    for (const [rowKey, at] of this.seen) if (at < startedAt - 2 * WINDOW_MS) this.seen.delete(rowKey);
    if (startedAt - this.lastCleanupAt > CLEANUP_EVERY_MS) {
      this.lastCleanupAt = startedAt;
      await this.cleanUp(startedAt).catch(() => undefined);
    }
  }

  private drop(scope: ChangeScope, key: string | undefined): void {
    for (const drop of droppers.get(scope) ?? []) drop(this.app, key);
  }

  private dropAll(): void {
    for (const scope of SCOPES) this.drop(scope, undefined);
  }

  private async cleanUp(now: number): Promise<void> {
    const before = rowKeyAt(now - RETENTION_MS);
    const rows = this.table.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${PARTITION} and RowKey lt ${before}`, select: ['RowKey'] } });
    for await (const page of rows.byPage({ maxPageSize: 100 })) {
      await Promise.all(page.map((row) => this.table.deleteEntity(PARTITION, row.rowKey ?? '').catch(() => undefined)));
      break;
    }
  }
}

const running = new WeakMap<AppContext, ChangeFeed>();

/** Starts the app's change feed (CHANGE_FEED_POLL_MS; 0 leaves it off, for a single instance). */
export function startChangeFeed(app: AppContext): void {
  if (app.config.changeFeedPollMs <= 0 || running.has(app)) return;
  const feed = new ChangeFeed(app, app.config.changeFeedPollMs);
  running.set(app, feed);
  feed.start();
}

export async function stopChangeFeed(app: AppContext): Promise<void> {
  await running.get(app)?.stop();
  running.delete(app);
}

onRemoteChange('organization', (app, key) => app.directory.dropCached('organization', key));
onRemoteChange('membership', (app, key) => app.directory.dropCached('membership', key));
