import type { AppContext } from './app-context.js';
import type { AuditContext } from './audit/context.js';
import type { Caller } from './auth/caller.js';
import type { OrganizationAccess } from './directory/access.js';

/**
 * An authenticated request as a service sees it: the app, who calls, and the audit context its
 * changes are recorded under. The endpoint layer (shared/http/endpoint.ts) builds it from the route's
 * `access` declaration, so `C` is exactly the kinds of caller the route admits; a handler's input is
 * itself a scope and is handed to services as is.
 */
export interface CallerScope<C extends Caller = Caller> {
  readonly app: AppContext;
  readonly caller: C;
  readonly audit: AuditContext;
}

/** A request on an organization route: the caller is a member, and this is their standing there. */
export interface OrganizationScope<C extends Caller = Caller> extends CallerScope<C> {
  readonly organization: OrganizationAccess;
}
