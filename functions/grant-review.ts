import { getAppContext } from '../shared/app-context.js';
import { reviewPendingRequests } from '../shared/pipelines/service.js';
import { timerFunction } from '../shared/runtime/declarations.js';

/** Reviews pending free pipeline grant requests on GRANT_REVIEW_SCHEDULE (default every 15 minutes). */
export const grantReview = timerFunction('grant-review', '%GRANT_REVIEW_SCHEDULE%', async () => {
  await reviewPendingRequests(getAppContext());
});
