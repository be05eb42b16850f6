import type { AuditActionDefinition, AuditActionOrigin } from '../../shared/audit/actions.js';
import { code, table } from './regions.js';

const ORIGINS: Readonly<Record<AuditActionOrigin, string>> = {
  azureDevOps: 'Azure DevOps',
  azureDevOpsServer: 'Azure DevOps Server',
  gatehouse: 'Gatehouse',
};

/** The audit action catalogue (docs/api.md), from shared/audit/actions.ts. */
export function renderAuditActions(actions: readonly AuditActionDefinition[]): string {
  const rows = [...actions]
    .sort((a, b) => a.area.localeCompare(b.area) || a.actionId.localeCompare(b.actionId))
    .map((action) => [code(action.actionId), action.area, action.category, ORIGINS[action.origin], action.details]);
  return `${table(['action', 'area', 'category', 'id from', 'details'], rows)}\n`;
}
