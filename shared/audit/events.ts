import { z } from 'zod';
import { truncate, wellFormedDeep } from '../text.js';

/**
 * The audit event message: what every change puts on the audit queue (through the outbox) and what
 * the queue-triggered writer stores. Shared by producers and the writer so both validate the same shape.
 * Secrets never belong here: `data` carries metadata (names, scopes, ids, dates) only.
 */
export const AUDIT_CATEGORIES = ['access', 'create', 'modify', 'remove', 'execute', 'unknown'] as const;

export const auditActorSchema = z.object({
  kind: z.enum(['user', 'servicePrincipal', 'system']),
  /** User object id, service principal app id, or a fixed id for the system. */
  id: z.string().min(1).max(128),
  upn: z.string().max(256).optional(),
  displayName: z.string().max(256),
  clientId: z.string().max(128).optional(),
  authenticationMechanism: z.string().max(128),
});

export const auditEventSchema = z.object({
  /** Unique per event: the writer is idempotent on it. */
  id: z.uuid(),
  schemaVersion: z.literal(1),
  timestamp: z.iso.datetime({ offset: true }),
  organizationId: z.uuid(),
  organizationName: z.string().min(1).max(64),
  projectId: z.uuid().optional(),
  projectName: z.string().max(64).optional(),
  /** e.g. Token.PatCreateEvent, Token.SshRevokeEvent, CheckSuite.Completed, AuditLog.AccessLog. */
  actionId: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*){1,4}$/)
    .max(128),
  area: z.string().min(1).max(64),
  category: z.enum(AUDIT_CATEGORIES),
  actor: auditActorSchema,
  ipAddress: z.string().max(64).optional(),
  userAgent: z.string().max(512).optional(),
  correlationId: z.uuid(),
  activityId: z.uuid(),
  scopeType: z.enum(['organization', 'project']),
  scopeId: z.uuid(),
  data: z.record(z.string(), z.unknown()),
});

export type AuditEvent = z.infer<typeof auditEventSchema>;
export type AuditActor = z.infer<typeof auditActorSchema>;

/**
 * An event as the writer will accept it: every string well-formed, the bounded fields cut on code
 * points to their limits. Producers pass every event through this before its change commits, so no
 * committed change can end with its event in poison.
 */
export function normalizeAuditEvent(event: AuditEvent): AuditEvent {
  const clean = wellFormedDeep(event);
  return {
    ...clean,
    ...(clean.projectName !== undefined ? { projectName: truncate(clean.projectName, 64) } : {}),
    ...(clean.ipAddress !== undefined ? { ipAddress: truncate(clean.ipAddress, 64) } : {}),
    ...(clean.userAgent !== undefined ? { userAgent: truncate(clean.userAgent, 512) } : {}),
    actor: {
      ...clean.actor,
      displayName: truncate(clean.actor.displayName, 256),
      ...(clean.actor.upn !== undefined ? { upn: truncate(clean.actor.upn, 256) } : {}),
    },
  };
}
