import { getAppContext } from '../shared/app-context.js';
import { relayOutbox } from '../shared/audit/outbox.js';
import { timerFunction } from '../shared/runtime/declarations.js';

/** Sends audit events left in an outbox (audit queue unavailable at commit time). */
export const outboxRelay = timerFunction('outbox-relay', '%OUTBOX_RELAY_SCHEDULE%', async () => {
  await relayOutbox(getAppContext());
});
