import type { InvocationContext } from '@azure/functions';
import type { AuditActionId } from './actions.js';
import type { AuditEvent } from './events.js';
import type { MessageOutcome } from './writer.js';
import { annotateInvocation, telemetry } from '../telemetry/telemetry.js';

const CREATED: Partial<Record<AuditActionId, 'pat' | 'sshKey'>> = { 'Token.PatCreateEvent': 'pat', 'Token.SshCreateEvent': 'sshKey' };
const REVOKED: Partial<Record<AuditActionId, 'pat' | 'sshKey'>> = {
  'Token.PatRevokeEvent': 'pat',
  'Token.PatSystemRevokeEvent': 'pat',
  'Token.PatOrganizationRevokeEvent': 'pat',
  'Token.SshRevokeEvent': 'sshKey',
  'Token.SshRemoveEvent': 'sshKey',
};

/**
 * What the writer tells telemetry about a message it handled: the event on the invocation's span,
 * and, once per event (only when this delivery stored it), the audit lag from commit to storage and
 * the tokens created or revoked. Counting stored events makes the token counters exactly-once, like
 * the log.
 */
export function observeAuditMessage(invocation: InvocationContext, event: AuditEvent, outcome: MessageOutcome, nowMs: number): void {
  annotateInvocation(invocation, { 'gatehouse.audit.event_id': event.id, 'gatehouse.audit.action_id': event.actionId, 'gatehouse.audit.outcome': outcome });
  if (outcome !== 'written') return;
  telemetry.auditLag(nowMs - Date.parse(event.timestamp));
  const created = CREATED[event.actionId as AuditActionId];
  if (created) telemetry.tokenCreated(created);
  const revoked = REVOKED[event.actionId as AuditActionId];
  if (revoked) telemetry.tokenRevoked(revoked);
}
