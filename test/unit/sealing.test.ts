import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { seal, sealedFromColumns, sealedVersion, unseal } from '../../shared/secrets/sealing.js';

const v1 = { version: '1', secret: randomBytes(32) };
const v2 = { version: '2', secret: randomBytes(32) };

describe('sealed values', () => {
  it('name the version they are sealed under and open while it is configured', () => {
    const sealed = seal([v1], 'webhook-secret', 'the secret');
    expect(sealedVersion(sealed)).toBe('1');
    expect(sealed).not.toContain('the secret');
    expect(unseal([v2, v1], 'webhook-secret', sealed)).toBe('the secret');
    expect(unseal([v2], 'webhook-secret', sealed)).toBeUndefined();
    expect(sealedVersion(seal([v2, v1], 'webhook-secret', 'the secret'))).toBe('2');
  });

  it('open only for their purpose and their context, and not once altered', () => {
    const sealed = seal([v1], 'pat-rotation-idempotency', 'token', 'a|b|row');
    expect(unseal([v1], 'pat-rotation-idempotency', sealed, 'a|b|row')).toBe('token');
    expect(unseal([v1], 'webhook-secret', sealed, 'a|b|row')).toBeUndefined();
    expect(unseal([v1], 'pat-rotation-idempotency', sealed, 'a|b|other')).toBeUndefined();
    const last = sealed.at(-2) === 'A' ? 'B' : 'A';
    expect(unseal([v1], 'pat-rotation-idempotency', `${sealed.slice(0, -2)}${last}${sealed.at(-1)}`, 'a|b|row')).toBeUndefined();
    expect(unseal([v1], 'pat-rotation-idempotency', 'not sealed', 'a|b|row')).toBeUndefined();
  });

  it('read values stored before they named their version (the version in a column beside them)', () => {
    const key = Buffer.from(hkdfSync('sha256', v1.secret, Buffer.alloc(0), 'gatehouse:webhook-secret', 32));
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update('an old secret', 'utf8'), cipher.final()]);
    const stored = Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
    const sealed = sealedFromColumns('1', stored);
    expect(sealedVersion(sealed)).toBe('1');
    expect(unseal([v1], 'webhook-secret', sealed)).toBe('an old secret');
    expect(sealedFromColumns('1', sealed)).toBe(sealed);
    expect(sealedFromColumns('', '')).toBe('');
  });
});
