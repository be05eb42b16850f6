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

export function auditContextOf(caller: Caller, origin: RequestOrigin, activityId: string): AuditContext {
  return {
    actor: actorOf(caller),
    ipAddress: origin.ip,
    userAgent: origin.userAgent,
    activityId,
    correlationId: activityId,
  };
}

export function systemAuditContext(correlationId: string = randomUUID()): AuditContext {
  return { actor: SYSTEM_ACTOR, ipAddress: undefined, userAgent: undefined, activityId: correlationId, correlationId };
}

/** What a producer says about an event: the catalogued action, its data and, optionally, its project. */
export interface AuditAction<Id extends AuditActionId> {
  readonly actionId: Id;
  readonly data: AuditData<Id>;
  /** The project the change belongs to (the event's projectId and projectName). */
  readonly project?: Pick<Project, 'id' | 'name'> | undefined;
}

/**
 * Builds an organization-scoped audit event (a new event id each call). Area and category come from
 * the catalogue (shared/audit/actions.ts), never from the producer.
 */
export function organizationEvent<Id extends AuditActionId>(
  app: AppContext,
  context: AuditContext,
  organization: Pick<Organization, 'id' | 'name'>,
  action: AuditAction<Id>,
): AuditEvent {
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
  };
}
