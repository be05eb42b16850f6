/** The api-version values each family of routes accepts (Azure DevOps requires the parameter). */
export const API_VERSIONS = {
  core: ['7.1', '7.1-preview.4', '7.2-preview.4'],
  memberEntitlements: ['7.1-preview.3', '7.1', '7.2-preview.4'],
  audit: ['6.0-preview.1', '7.0-preview.1', '7.1-preview.1', '7.2-preview.1'],
  pipelineGrants: ['7.1', '7.1-preview.1', '7.2-preview.1'],
  notifications: ['7.1', '7.1-preview.1', '7.2-preview.1'],
} as const;
