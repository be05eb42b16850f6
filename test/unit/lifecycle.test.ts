import ICAL from 'ical.js';
import { describe, expect, it } from 'vitest';
import type { AppContext } from '../../shared/app-context.js';
import { loadConfig } from '../../shared/config.js';
import { BASE_SETTINGS, configProblems as problemsOf } from '../helpers/settings.js';
import { parseEntry } from '../../shared/lifecycle/expiry-index.js';
import { bucketOf, bucketStart, pad } from '../../shared/storage/expiry-keys.js';
import { noticeId } from '../../shared/lifecycle/reminders.js';
import { escapeText, foldLine, renderCalendar } from '../../shared/notifications/ics.js';
import { signBody } from '../../shared/notifications/sender.js';
import { checkWebhookUrl, ladderSchema } from '../../shared/notifications/settings.js';

const valid = BASE_SETTINGS;

describe('lifecycle settings', () => {
  it('defaults the schedule to every five minutes and http webhooks to off', () => {
    const config = loadConfig(valid);
    expect(config.lifecycle).toMatchObject({ schedule: '0 */5 * * * *', allowHttpWebhooksForLocalhost: false, maxItemsPerRun: 5000 });
    expect(loadConfig({ ...valid, ALLOW_HTTP_WEBHOOKS_FOR_LOCALHOST: 'true' }).lifecycle.allowHttpWebhooksForLocalhost).toBe(true);
  });

  it('fails start-up on a malformed LIFECYCLE_SCHEDULE with a clear message', () => {
    for (const schedule of ['*/5 * * * *', '0 */5 * * * * *', '0 61 * * * *', 'every five minutes']) {
      const problems = problemsOf({ ...valid, LIFECYCLE_SCHEDULE: schedule });
      expect(
        problems.some((problem) => problem.startsWith('LIFECYCLE_SCHEDULE:') && problem.includes('NCRONTAB')),
        schedule,
      ).toBe(true);
    }
    expect(problemsOf({ ...valid, ALLOW_HTTP_WEBHOOKS_FOR_LOCALHOST: 'yes' }).some((p) => p.startsWith('ALLOW_HTTP_WEBHOOKS_FOR_LOCALHOST:'))).toBe(true);
  });
});

describe('notification ladder', () => {
  it('accepts up to ten distinct whole days and sorts them', () => {
    expect(ladderSchema.parse([1, 30, 7])).toEqual([30, 7, 1]);
    expect(ladderSchema.parse([])).toEqual([]);
    expect(ladderSchema.parse(Array.from({ length: 10 }, (_, i) => i + 1))).toHaveLength(10);
  });

  it('refuses negative, zero, duplicated, fractional, too large and more than ten rungs', () => {
    for (const bad of [[-7], [0], [7, 7], [2.5], [366], Array.from({ length: 11 }, (_, i) => i + 1)]) {
      expect(ladderSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('expiry index keys', () => {
  it('buckets by UTC hour and orders row keys by time', () => {
    const ms = Date.parse('2025-06-01T12:30:00.000Z');
    expect(bucketOf(ms)).toBe('2025060112');
    expect(bucketStart('2025060112')).toBe(Date.parse('2025-06-01T12:00:00.000Z'));
    expect(pad(ms) < pad(ms + 1)).toBe(true);
    expect(parseEntry({ partitionKey: '2025060112', rowKey: `${pad(ms)}_abc`, ownerId: 'o', authorizationId: 'abc' })).toMatchObject({ dueMs: ms, id: 'abc' });
    expect(parseEntry({ partitionKey: 'x', rowKey: 'garbage' })).toBeUndefined();
  });

  it('gives every notice a stable UUID', () => {
    const item = { kind: 'pat' as const, id: 'a', ownerId: 'o', name: 'n', organizationId: 'g', validFrom: '', validTo: '2025-01-01T00:00:00Z', live: true };
    expect(noticeId(item, 7)).toBe(noticeId(item, 7));
    expect(noticeId(item, 7)).not.toBe(noticeId(item, 1));
    expect(noticeId(item, 7)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('webhooks', () => {
  const app = (allow: boolean) => ({ config: { lifecycle: { allowHttpWebhooksForLocalhost: allow } } }) as unknown as AppContext;

  it('allows https, and http only for localhost when the development setting is on', () => {
    expect(checkWebhookUrl(app(false), 'https://hooks.example.com/x').hostname).toBe('hooks.example.com');
    expect(() => checkWebhookUrl(app(false), 'http://localhost:8080/x')).toThrow(/https/);
    expect(() => checkWebhookUrl(app(false), 'http://127.0.0.1:8080/x')).toThrow(/https/);
    expect(checkWebhookUrl(app(true), 'http://127.0.0.1:8080/x').port).toBe('8080');
    expect(checkWebhookUrl(app(true), 'http://[::1]:8080/x').hostname).toBe('[::1]');
    expect(() => checkWebhookUrl(app(true), 'http://hooks.example.com/x')).toThrow(/https/);
    expect(() => checkWebhookUrl(app(true), 'http://localhost.example.com/x')).toThrow(/https/);
  });

  it('signs the raw body with HMAC-SHA256', () => {
    // RFC 4231 test case 2.
    expect(signBody('Jefe', 'what do ya want for nothing?')).toBe('sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
});

describe('iCalendar writer', () => {
  it('escapes TEXT values and folds lines at 75 octets without splitting characters', () => {
    expect(escapeText('a,b;c\\d\ne')).toBe('a\\,b\\;c\\\\d\\ne');
    const long = `SUMMARY:${'é'.repeat(100)}`;
    const folded = foldLine(long).split('\r\n');
    for (const line of folded) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(75);
    expect(folded.map((line, i) => (i === 0 ? line : line.slice(1))).join('')).toBe(long);
  });

  it('renders a calendar that a real parser reads back', () => {
    const text = renderCalendar({
      prodId: '-//Gatehouse//Test//EN',
      name: 'test',
      stamp: new Date('2025-01-01T00:00:00Z'),
      events: [
        { uid: 'one@test', start: new Date('2025-02-03T04:05:06Z'), summary: 'a, b; c \\ d', description: 'line 1\nline 2', alarmsDaysBefore: [7] },
        { uid: 'two@test', start: new Date('2025-02-03T04:05:06Z'), allDay: true, summary: 'all day' },
      ],
    });
    const calendar = new ICAL.Component(ICAL.parse(text));
    const [one, two] = calendar.getAllSubcomponents('vevent').map((component) => new ICAL.Event(component));
    expect(one?.summary).toBe('a, b; c \\ d');
    expect(one?.description).toBe('line 1\nline 2');
    expect(one?.startDate.toJSDate().toISOString()).toBe('2025-02-03T04:05:06.000Z');
    expect(two?.startDate.isDate).toBe(true);
    expect(two?.startDate.toString()).toBe('2025-02-03');
  });
});
