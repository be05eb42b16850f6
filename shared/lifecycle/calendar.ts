import type { AppContext } from '../app-context.js';
import type { Organization } from '../directory/repository.js';
import { renderCalendar, type CalendarEvent } from '../notifications/ics.js';
import { readNotificationSettings } from '../notifications/settings.js';
import { expirableKinds } from './registry.js';
import { DAY_MS } from '../time.js';

/**
 * The caller's live (not revoked, not yet expired) tokens and keys in an organization as calendar
 * events at their exact validTo (UTC), with reminders at the organization's ladder rungs. UIDs are
 * stable per item and validTo, so a renewed token moves to a new event and the old one disappears.
 */
export async function expirationsCalendar(app: AppContext, ownerId: string, organization: Organization, origin: string): Promise<string> {
  const now = app.clock.now();
  const ladder = (await readNotificationSettings(app, organization.id)).ladder;
  const events: CalendarEvent[] = [];
  for (const kind of expirableKinds()) {
    const items = await kind.listForOwner(app, ownerId, organization.id);
    for (const item of items) {
      const validTo = new Date(item.validTo);
      if (!item.live || Number.isNaN(validTo.getTime()) || validTo.getTime() <= now.getTime()) continue;
      const label = kind.label.charAt(0).toUpperCase() + kind.label.slice(1);
      events.push({
        uid: `${item.kind}-${item.id.toLowerCase()}-${validTo.getTime()}@gatehouse`,
        start: validTo,
        summary: `${label} "${item.name}" expires (${organization.name})`,
        description: `${label} "${item.name}" in organization ${organization.name} expires at ${item.validTo}.\n\n${kind.renewalHelp(item, organization)}`,
        url: `${origin}/${encodeURIComponent(organization.name)}/_apis/tokens/pats?api-version=7.1`,
        categories: ['Gatehouse', kind.kind === 'pat' ? 'PAT' : 'SSH key'],
        alarmsDaysBefore: ladder.filter((days) => validTo.getTime() - days * DAY_MS > now.getTime()),
      });
    }
  }
  events.sort((a, b) => a.start.getTime() - b.start.getTime() || a.uid.localeCompare(b.uid));
  return renderCalendar({
    prodId: '-//Gatehouse//Token expirations//EN',
    name: `Token expirations (${organization.name})`,
    stamp: now,
    events,
  });
}
