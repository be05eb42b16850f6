import type { AuditActionDefinition } from '../../shared/audit/actions.js';
import { code, table } from './regions.js';

/** The audit action catalogue (docs/api.md), from shared/audit/actions.ts. */
export function renderAuditActions(actions: readonly AuditActionDefinition[]): string {
  const rows = [...actions]
    .sort((a, b) => a.area.localeCompare(b.area) || a.actionId.localeCompare(b.actionId))
    .map((action) => [code(action.actionId), action.area, action.category, action.details]);
  return `${table(['action', 'area', 'category', 'details'], rows)}\n`;
}
