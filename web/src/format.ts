// Dates and times in the viewer's locale and time zone.
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const date = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

export const formatDateTime = (value: string | null | undefined): string => (value ? dateTime.format(new Date(value)) : '—');
export const formatDate = (value: string | null | undefined): string => (value ? date.format(new Date(value)) : '—');

/** yyyy-mm-dd of a date in the viewer's time zone (for date inputs). */
export function inputDate(value: Date): string {
  const local = new Date(value.getTime() - value.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 10);
}

/** The end of the chosen day in the viewer's time zone, as ISO. */
export function endOfDay(input: string): string {
  const [year = 0, month = 1, day = 1] = input.split('-').map(Number);
  return new Date(year, month - 1, day, 23, 59, 59).toISOString();
}

export const addDays = (days: number, from = new Date()): Date => new Date(from.getTime() + days * 86_400_000);

export const daysUntil = (value: string): number => Math.ceil((Date.parse(value) - Date.now()) / 86_400_000);

/** "2 Dec 2026, 09:39 from 203.0.113.7", or "Never". */
export function formatLastUsed(lastUsed: { time: string; ip: string | null } | null | undefined): string {
  if (!lastUsed) return 'Never';
  return `${formatDateTime(lastUsed.time)}${lastUsed.ip ? ` from ${lastUsed.ip}` : ''}`;
}
