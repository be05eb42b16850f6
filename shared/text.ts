/** Text as Gatehouse stores and forwards it: well-formed Unicode, cut on code points. */

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Replaces unpaired UTF-16 surrogates (which storage and JSON consumers refuse) with U+FFFD. */
export const wellFormed = (value: string): string => value.replace(LONE_SURROGATE, '\ufffd');

/** At most `max` UTF-16 code units, never splitting a surrogate pair. */
export function truncate(value: string, max: number): string {
  if (value.length <= max) return value;
  const cut = value.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/** Every string and key of a JSON-like value made well-formed. */
export function wellFormedDeep<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return wellFormed(value) as T;
  if (typeof value !== 'object' || value === null || depth > 64) return value;
  if (Array.isArray(value)) return (value as unknown[]).map((item) => wellFormedDeep(item, depth + 1)) as T;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [wellFormed(key), wellFormedDeep(item, depth + 1)])) as T;
}

/**
 * `value` without the trailing characters that are in `chars`. A loop, not `/[…]+$/`: an unanchored
 * pattern ending in `+$` retries at every character of each run it cannot finish, which is quadratic
 * in the run's length.
 */
export function trimTrailing(value: string, chars: string): string {
  let end = value.length;
  while (end > 0 && chars.includes(value.charAt(end - 1))) end -= 1;
  return value.slice(0, end);
}
