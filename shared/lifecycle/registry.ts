import { endGraceIfDue } from '../tokens/rotation.js';
import type { ExpirableKind } from './kinds.js';
import { createPatKind } from './pat-kind.js';
import { createSshKind } from './ssh-kind.js';

/**
 * The expirable kinds the lifecycle timer sweeps, one per expiry index table. A new kind implements
 * ExpirableKind (shared/lifecycle/kinds.ts) and is listed here.
 */
export function expirableKinds(): readonly ExpirableKind[] {
  return [createPatKind(endGraceIfDue), createSshKind()];
}
