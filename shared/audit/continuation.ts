import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { badRequest } from '../http/errors.js';

/**
 * Audit query continuation tokens: `base64url(JSON payload) "." base64url(HMAC-SHA256)`, keyed with a
 * key derived (HKDF) from the current token pepper and checked against every configured pepper. The
 * payload binds the organization, the resolved window and a fingerprint of the filters, and holds the
 * read position (day and row key). Anything altered, or sent with another window or other filters,
 * is a 400; nothing is stored server-side.
 */
export interface ReadPosition {
  /** Day partition `yyyyMMdd` to continue in. */
  readonly d: string;
  /** Row key to continue from (absent: the top of the day). */
  readonly k?: string | undefined;
  /** True: the row key itself is still to be read; false: read after it. */
  readonly i?: boolean | undefined;
  /** The table service's continuation for the day's query opened at `k`/`i`, when a page ended mid-day. */
  readonly c?: string | undefined;
}

const payloadSchema = z.object({
  v: z.literal(1),
  o: z.uuid(),
  s: z.number().int(),
  e: z.number().int(),
  f: z.string().regex(/^[0-9a-f]{32}$/),
  p: z.object({
    d: z.string().regex(/^\d{8}$/),
    k: z
      .string()
      .regex(/^e_\d{19}_[0-9a-f-]{1,40}$|^e_\d{19}_~$/)
      .optional(),
    i: z.boolean().optional(),
    c: z
      .string()
      .regex(/^[A-Za-z0-9+/=_-]{1,1024}$/)
      .optional(),
  }),
});

export type ContinuationPayload = z.infer<typeof payloadSchema>;

const MAX_TOKEN_LENGTH = 2048;

function keys(app: AppContext): Buffer[] {
  return app.config.peppers.map((pepper) => Buffer.from(hkdfSync('sha256', pepper.secret, Buffer.from('gatehouse'), Buffer.from('audit-continuation-v1'), 32)));
}

const mac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();

export function signContinuation(app: AppContext, payload: ContinuationPayload): string {
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  const [key] = keys(app);
  if (!key) throw new Error('no pepper configured');
  return `${body}.${mac(key, body).toString('base64url')}`;
}

const invalid = () => badRequest('invalidContinuationToken', 'The continuation token is not valid. Start the query again without it.');

export function openContinuation(app: AppContext, token: string, organizationId: string): ContinuationPayload {
  if (token.length > MAX_TOKEN_LENGTH) throw invalid();
  const match = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match?.[1] || !match[2]) throw invalid();
  const body = match[1];
  const given = Buffer.from(match[2], 'base64url');
  const genuine = keys(app).some((key) => {
    const expected = mac(key, body);
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
  if (!genuine) throw invalid();
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success || parsed.data.o !== organizationId) throw invalid();
  return parsed.data;
}
