/**
 * Service-level roles. They come from the `roles` claim: app roles of app-only tokens, or app roles
 * assigned to a user in a delegated token. They are separate from any organization's groups: a
 * Project Collection Administrator is not an operator, and an operator is not a member of any
 * organization by virtue of the role.
 */
export const SERVICE_ROLES = {
  /** Gatehouse operations staff: review free pipeline grant requests, revoke grants. */
  operator: 'Gatehouse.Operator',
  /** The pipelines service: reads organizations' pipeline capacity. */
  pipelines: 'Gatehouse.Pipelines',
  /** Git servers: look up who owns an SSH public key (POST /_apis/tokens/sshkeys/lookup). */
  tokenIntrospection: 'Gatehouse.TokenIntrospection',
} as const;

/**
 * App role of a tenant's administrators (assigned to users in Entra ID, like Azure DevOps' "Azure
 * DevOps Administrator" role): the tenant's policies, applied in every organization of the tenant.
 */
export const TENANT_ADMINISTRATOR_ROLE = 'Gatehouse.TenantAdministrator';
