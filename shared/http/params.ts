import { z } from 'zod';

/** Route values shared by many endpoints. Organization names are checked by the access resolver (404). */
export const organizationParam = z.object({ organization: z.string() });
export const organizationProjectParam = z.object({ organization: z.string(), project: z.string() });
export const organizationUserParam = z.object({ organization: z.string(), userId: z.string() });
