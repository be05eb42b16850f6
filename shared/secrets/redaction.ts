import { TOKEN_PATTERN } from './format.js';

/**
 * Redaction of token-shaped strings in user-supplied text (display names, descriptions, comments,
 * leak report URLs, user agents, anything bound for storage, a queue, an inbox or a webhook). Any
 * match of the token pattern is replaced, whether or not its checksum holds: a secret is never a
 * reason to refuse a request or to skip a security event, it is simply not kept.
 */
export const REDACTED_TOKEN = '[redacted token]';

const ANY_TOKEN = new RegExp(TOKEN_PATTERN.source, 'g');
/** A cheap pre-check: every token contains this. */
const MARKER = 'gat_';

export function redactSecrets(text: string): string {
  if (!text.includes(MARKER)) return text;
  return text.replace(ANY_TOKEN, REDACTED_TOKEN);
}

export const redactOptional = <T extends string | undefined | null>(text: T): T => (typeof text === 'string' ? redactSecrets(text) : text) as T;

/** A copy of a JSON-like value with every string (and object key) redacted; unchanged values are kept as they are. */
export function redactDeep<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return redactSecrets(value) as T;
  if (typeof value !== 'object' || value === null || depth > 256) return value;
  let changed = false;
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    for (const item of value as unknown[]) {
      const next = redactDeep(item, depth + 1);
      if (next !== item) changed = true;
      items.push(next);
    }
    return (changed ? items : value) as T;
  }
  const entries: [string, unknown][] = [];
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const nextKey = redactSecrets(key);
    const next = redactDeep(item, depth + 1);
    if (next !== item || nextKey !== key) changed = true;
    entries.push([nextKey, next]);
  }
  return (changed ? Object.fromEntries(entries) : value) as T;
}
