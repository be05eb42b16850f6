import { describe, expect, it } from 'vitest';
import { parseNcrontab, resolveSettingReference } from '../../shared/runtime/ncrontab.js';

describe('NCRONTAB schedules', () => {
  it('reads six fields with seconds, in UTC', () => {
    const every5 = parseNcrontab('0 */5 * * * *');
    expect(every5.next(new Date('2026-01-01T10:03:10Z'))?.toISOString()).toBe('2026-01-01T10:05:00.000Z');
    expect(parseNcrontab('30 15 9 * * *').next(new Date('2026-01-01T10:00:00Z'))?.toISOString()).toBe('2026-01-02T09:15:30.000Z');
  });

  it('requires day-of-month and day-of-week to match together, as NCrontab does', () => {
    // the 13th that is a Friday (Sunday = 0)
    expect(parseNcrontab('0 0 0 13 * 5').next(new Date('2026-01-01T00:00:00Z'))?.toISOString()).toBe('2026-02-13T00:00:00.000Z');
    expect(parseNcrontab('0 30 9 * Jan Mon').next(new Date('2026-11-28T00:00:00Z'))?.toISOString()).toBe('2027-01-04T09:30:00.000Z');
  });

  it('refuses five-field and malformed expressions with a clear message', () => {
    expect(() => parseNcrontab('*/5 * * * *')).toThrow(/six-field/);
    expect(() => parseNcrontab('0 */5 * * * banana')).toThrow(/not a valid NCRONTAB/);
    expect(() => parseNcrontab('99 * * * * *')).toThrow(/not a valid NCRONTAB/);
  });

  it('resolves %APP_SETTING% references', () => {
    expect(resolveSettingReference('%SCHEDULE%', { SCHEDULE: '0 * * * * *' })).toBe('0 * * * * *');
    expect(resolveSettingReference('0 * * * * *', {})).toBe('0 * * * * *');
    expect(() => resolveSettingReference('%MISSING%', {})).toThrow(/MISSING is not set/);
  });
});
