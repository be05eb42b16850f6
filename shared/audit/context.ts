import { truncate } from '../text.js';
import { randomUUID } from 'node:crypto';
import type { AppContext } from '../app-context.js';
import type { Caller } from '../auth/caller.js';
import type { Organization, Project } from '../directory/repository.js';
import { AUDIT_ACTIONS, type AuditActionId, type AuditData } from './actions.js';
import type { AuditActor, AuditEvent } from './events.js';
import type { RequestOrigin } from '../http/origin.js';
import { ZERO_GUID } from '../ids.js';

/** Who did something and from where: everything an audit event needs besides the action itself. */
export interface AuditContext {
  readonly actor: AuditActor;
  readonly ipAddress: string | undefined;
  readonly userAgent: string | undefined;
  readonly activityId: string;
  readonly correlationId: string;
  /**
   * The W3C trace context of the invocation making the change (the HTTP endpoint layer sets it from
   * the request's span): its events carry it to their outbox rows and queue messages, so the audit
   * writer continues the request's trace. Absent for timers' changes: their writer starts a trace.
   */
  readonly traceparent?: string;
}

/** The fixed actor for changes Gatehouse makes on its own (revocation rules, leaks, timers). */
export const SYSTEM_ACTOR: AuditActor = {
  kind: 'system',
  id: ZERO_GUID,
  displayName: 'Gatehouse',
  authenticationMechanism: 'System',
};

export function actorOf(caller: Caller): AuditActor {
  if (caller.kind === 'pat') {
    return {
      kind: 'user',
      id: caller.id,
      upn: truncate(caller.email, 256) || undefined,
      displayName: truncate(caller.displayName, 256),
      authenticationMechanism: `PAT:${caller.authorizationId}`,
    };
  }
  if (caller.kind === 'user') {
    return {
      kind: 'user',
      id: caller.id,
      upn: truncate(caller.email, 256) || undefined,
      displayName: truncate(caller.displayName, 256),
      authenticationMechanism: 'EntraBearer',
    };
  }
  return {
    kind: 'servicePrincipal',
    id: caller.id,
    displayName: truncate(caller.displayName, 256),
    clientId: caller.id,
    authenticationMechanism: 'EntraBearer',
  };
}

export function auditContextOf(caller: Caller, origin: RequestOrigin, activityId: string, traceparent?: string): AuditContext {
  return {
    actor: actorOf(caller),
    ipAddress: origin.ip,
    userAgent: origin.userAgent,
    activityId,
    correlationId: activityId,
    traceparent,
  };
}

export function systemAuditContext(correlationId: string = randomUUID()): AuditContext {
  return { actor: SYSTEM_ACTOR, ipAddress: undefined, userAgent: undefined, activityId: correlationId, correlationId };
}

/** Gatehouse acting within a request (a rule's revocations, a rotation's old token): the request's correlation, origin and trace. */
export function systemAuditContextWithin(request: AuditContext): AuditContext {
  return { ...systemAuditContext(request.correlationId), ipAddress: request.ipAddress, userAgent: request.userAgent, traceparent: request.traceparent };
}

/** What a producer says about an event: the catalogued action, its data and, optionally, its project. */
export interface AuditAction<Id extends AuditActionId> {
  readonly actionId: Id;
  readonly data: AuditData<Id>;
  /** The project the change belongs to (the event's projectId and projectName). */
  readonly project?: Pick<Project, 'id' | 'name'> | undefined;
}

/**
 * An event as its producer holds it: the event, and the trace context of the change that made it,
 * which its outbox row and queue message carry. The trace context is never stored: the event schema
 * does not know it, so parsing drops it.
 */
export type ProducedEvent = AuditEvent & { readonly traceparent?: string };

/**
 * Builds an organization-scoped audit event (a new event id each call). Area and category come from
 * the catalogue (shared/audit/actions.ts), never from the producer.
 */
export function organizationEvent<Id extends AuditActionId>(
  app: AppContext,
  context: AuditContext,
  organization: Pick<Organization, 'id' | 'name'>,
  action: AuditAction<Id>,
): ProducedEvent {
  const { area, category } = AUDIT_ACTIONS[action.actionId];
  return {
    id: randomUUID(),
    schemaVersion: 1,
    timestamp: app.clock.now().toISOString(),
    organizationId: organization.id,
    organizationName: organization.name,
    ...(action.project ? { projectId: action.project.id, projectName: action.project.name } : {}),
    actionId: action.actionId,
    area,
    category,
    actor: context.actor,
    ...(context.ipAddress ? { ipAddress: context.ipAddress } : {}),
    ...(context.userAgent ? { userAgent: context.userAgent } : {}),
    correlationId: context.correlationId,
    activityId: context.activityId,
    scopeType: 'organization',
    scopeId: organization.id,
    data: { ...action.data },
    ...(context.traceparent ? { traceparent: context.traceparent } : {}),
  };
}
