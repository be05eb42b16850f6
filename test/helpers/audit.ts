import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '../../shared/audit/events.js';
import { ALICE, CONTOSO } from './demo.js';

/** A valid audit event by Alice in contoso, at `timestamp`, with any field overridden. */
export function sampleAuditEvent(timestamp: Date, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: randomUUID(),
    schemaVersion: 1,
    timestamp: timestamp.toISOString(),
    organizationId: CONTOSO,
    organizationName: 'contoso',
    actionId: 'Token.PatCreateEvent',
    area: 'Token',
    category: 'create',
    actor: { kind: 'user', id: ALICE.id, upn: ALICE.email, displayName: ALICE.displayName, authenticationMechanism: 'EntraBearer' },
    correlationId: randomUUID(),
    activityId: randomUUID(),
    scopeType: 'organization',
    scopeId: CONTOSO,
    data: { DisplayName: 'build token' },
    ...overrides,
  };
}
