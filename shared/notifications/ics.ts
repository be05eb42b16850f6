import { DAY_MS, MINUTE_MS } from '../time.js';

/**
 * A minimal RFC 5545 writer: CRLF line endings, content lines folded at 75 octets (never inside a
 * UTF-8 sequence), TEXT values escaped (backslash, semicolon, comma, newline).
 */

export function escapeText(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/;/g, '\\;')
    .replace(/,/g, '\\,')
    .replace(/\r\n|\r|\n/g, '\\n');
}

/** Folds one content line: at most 75 octets per physical line, continuation lines start with a space. */
export function foldLine(line: string): string {
  const out: string[] = [];
  let current = '';
  let octets = 0;
  let limit = 75;
  for (const char of line) {
    const size = Buffer.byteLength(char, 'utf8');
    if (octets + size > limit) {
      out.push(current);
      current = ' ';
      octets = 1;
      limit = 75;
    }
    current += char;
    octets += size;
  }
  out.push(current);
  return out.join('\r\n');
}

/** `yyyyMMddTHHmmssZ` (UTC date-time form). */
export const icsDateTime = (date: Date) =>
  date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
/** `yyyyMMdd` (DATE form, for all-day events). */
export const icsDate = (date: Date) => date.toISOString().slice(0, 10).replace(/-/g, '');

export interface CalendarEvent {
  uid: string;
  start: Date;
  /** All-day event on the UTC date of `start` instead of an instant. */
  allDay?: boolean;
  summary: string;
  description?: string;
  url?: string;
  categories?: readonly string[];
  /** Reminders, in days before start. */
  alarmsDaysBefore?: readonly number[];
}

export function renderCalendar(options: { prodId: string; name: string; stamp: Date; events: readonly CalendarEvent[] }): string {
  const lines: string[] = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    `PRODID:${options.prodId}`,
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
    `X-WR-CALNAME:${escapeText(options.name)}`,
    `NAME:${escapeText(options.name)}`,
    'REFRESH-INTERVAL;VALUE=DURATION:PT1H',
    'X-PUBLISHED-TTL:PT1H',
  ];
  for (const event of options.events) {
    lines.push('BEGIN:VEVENT', `UID:${event.uid}`, `DTSTAMP:${icsDateTime(options.stamp)}`);
    if (event.allDay) {
      const next = new Date(event.start.getTime() + DAY_MS);
      lines.push(`DTSTART;VALUE=DATE:${icsDate(event.start)}`, `DTEND;VALUE=DATE:${icsDate(next)}`);
    } else {
      lines.push(`DTSTART:${icsDateTime(event.start)}`, `DTEND:${icsDateTime(new Date(event.start.getTime() + 15 * MINUTE_MS))}`);
    }
    lines.push(`SUMMARY:${escapeText(event.summary)}`);
    if (event.description) lines.push(`DESCRIPTION:${escapeText(event.description)}`);
    if (event.url) lines.push(`URL:${event.url}`);
    if (event.categories?.length) lines.push(`CATEGORIES:${event.categories.map(escapeText).join(',')}`);
    lines.push('TRANSP:TRANSPARENT');
    for (const days of event.alarmsDaysBefore ?? []) {
      lines.push(
        'BEGIN:VALARM',
        'ACTION:DISPLAY',
        `TRIGGER:-P${days}D`,
        `DESCRIPTION:${escapeText(`${event.summary} (in ${days} day${days === 1 ? '' : 's'})`)}`,
        'END:VALARM',
      );
    }
    lines.push('END:VEVENT');
  }
  lines.push('END:VCALENDAR');
  return lines.map(foldLine).join('\r\n') + '\r\n';
}
