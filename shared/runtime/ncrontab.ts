import { Cron } from 'croner';

/**
 * Six-field NCRONTAB (`{second} {minute} {hour} {day} {month} {day-of-week}`, UTC, Sunday = 0) as
 * the Functions timer trigger reads it. NCrontab requires both day fields to match (AND).
 */
export interface Schedule {
  readonly expression: string;
  next(after: Date): Date | undefined;
}

export function parseNcrontab(expression: string): Schedule {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new Error(`'${expression}' is not a six-field NCRONTAB expression ({second} {minute} {hour} {day} {month} {day-of-week})`);
  }
  let cron: Cron;
  try {
    cron = new Cron(fields.join(' '), { timezone: 'UTC', paused: true, domAndDow: true, mode: '6-part' });
  } catch (error) {
    throw new Error(`'${expression}' is not a valid NCRONTAB expression: ${(error as Error).message}`, { cause: error });
  }
  return {
    expression,
    next: (after) => cron.nextRun(after) ?? undefined,
  };
}

/** Resolves `%APP_SETTING%` references the way the host does for trigger options. */
export function resolveSettingReference(value: string, settings: Record<string, string | undefined>): string {
  const match = /^%([A-Za-z0-9_]+)%$/.exec(value);
  if (!match?.[1]) return value;
  const resolved = settings[match[1]];
  if (resolved === undefined || resolved === '') throw new Error(`app setting ${match[1]} is not set`);
  return resolved;
}
