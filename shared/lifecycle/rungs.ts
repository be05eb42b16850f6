import type { AppContext } from '../app-context.js';
import type { TableEntityResult } from '@azure/data-tables';
import { DEFAULT_LADDER, readNotificationSettings, saveLadder, type NotificationSettings } from '../notifications/settings.js';
import type { OrganizationScope } from '../request-scope.js';
import { changeEntity } from '../storage/conditional.js';
import { parseJsonColumn, readEntity } from '../storage/entities.js';
import { TABLES } from '../storage/names.js';
import { deleteCursor, reminderCursorName, REMINDER_KINDS } from './cursors.js';

/**
 * Replaces an organization's reminder ladder (a notification setting) and keeps the registry of the
 * rung values in use (lifecycle state: the reminder walk queries only those) in step.
 */
export async function updateLadder(scope: OrganizationScope, ladder: number[]): Promise<NotificationSettings> {
  const { app, audit: context } = scope;
  const organization = scope.organization.organization;
  const current = await readNotificationSettings(app, organization.id);
  // Register new rungs before the ladder uses them, so no reminder window is missed.
  await adjustRungRegistry(
    app,
    ladder.filter((rung) => !current.ladder.includes(rung)),
    +1,
  );
  const { before, after } = await saveLadder(app, organization, context, ladder);
  // After a concurrent change, rungs new relative to what was really replaced are counted too. An
  // over-count only costs a query per run; an under-count could skip reminders.
  await adjustRungRegistry(
    app,
    ladder.filter((rung) => !before.ladder.includes(rung) && current.ladder.includes(rung)),
    +1,
  );
  await adjustRungRegistry(
    app,
    before.ladder.filter((rung) => !ladder.includes(rung)),
    -1,
  );
  return after;
}

/**
 * One row (`lifecycle`, PK `registry`, RK `rungs`) counting the organizations using each rung value
 * besides the defaults, so the reminder walk queries only the rungs in use. A rung whose count rises
 * from zero loses its reminder cursors, so it starts at "now" instead of replaying a backlog.
 */
const REGISTRY_PARTITION = 'registry';
const RUNGS_ROW = 'rungs';

const rungCountsOf = (row: { counts: string } | undefined): Record<string, number> => parseJsonColumn<Record<string, number>>(row?.counts, {});

export async function activeRungs(app: AppContext): Promise<number[]> {
  const counts = rungCountsOf(await readEntity<{ counts: string }>(app.storage.table(TABLES.lifecycle), REGISTRY_PARTITION, RUNGS_ROW));
  const rungs = new Set(DEFAULT_LADDER);
  for (const [rung, count] of Object.entries(counts)) if (count > 0) rungs.add(Number(rung));
  return [...rungs].filter((rung) => Number.isInteger(rung) && rung >= 1).sort((a, b) => b - a);
}

async function adjustRungRegistry(app: AppContext, rungs: readonly number[], delta: 1 | -1): Promise<void> {
  if (rungs.length === 0) return;
  const activated = await changeEntity(
    app.storage.table(TABLES.lifecycle),
    REGISTRY_PARTITION,
    RUNGS_ROW,
    (row: TableEntityResult<{ counts: string }> | undefined) => {
      const counts = rungCountsOf(row);
      const newlyUsed: number[] = [];
      for (const rung of rungs) {
        const before = counts[String(rung)] ?? 0;
        const after = Math.max(0, before + delta);
        if (before === 0 && after > 0 && !DEFAULT_LADDER.includes(rung)) newlyUsed.push(rung);
        counts[String(rung)] = after;
      }
      return { result: newlyUsed, write: { partitionKey: REGISTRY_PARTITION, rowKey: RUNGS_ROW, counts: JSON.stringify(counts) } };
    },
  );
  for (const rung of activated) await Promise.all(REMINDER_KINDS.map((kind) => deleteCursor(app, reminderCursorName(kind, rung))));
}
