/** The api-version values each family of routes accepts (Azure DevOps requires the parameter). */
export const API_VERSIONS = {
  core: ['7.1', '7.1-preview.4', '7.2-preview.4'],
  memberEntitlements: ['7.1-preview.3', '7.1', '7.2-preview.4'],
} as const;
