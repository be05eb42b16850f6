import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Account } from './auth';

export interface Capabilities {
  /** Project Collection Administrator of the organization in view. */
  administrator: boolean;
  auditReader: boolean;
}

export interface Session {
  account: Account;
  organization: string | undefined;
  organizations: string[];
  capabilities: Capabilities | undefined;
}

export const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('no session');
  return session;
}

export const OPERATOR_ROLE = 'Gatehouse.Operator';
