import { patSessionTokenSource } from '../tokens/admin.js';
import type { SessionTokenSource } from '../tokens/session-tokens.js';
import { sshKeySessionTokenSource } from './service.js';

/** The session tokens Token Admin lists and revokes, by `isPublic`: SSH keys, or PATs. */
export const sessionTokenSourceFor = (isPublic: boolean): SessionTokenSource => (isPublic ? sshKeySessionTokenSource : patSessionTokenSource);
