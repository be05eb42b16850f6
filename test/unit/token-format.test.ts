import { randomUUID } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { checksumOf, crc32, findGatehouseTokens, generateToken, parseGatehouseToken } from '../../shared/secrets/format.js';
import { newPatAuthorizationId, ownerPartitionOf, patPartitionOf } from '../../shared/tokens/repository.js';

describe('token format', () => {
  it('carries its authorization id, the smallest and largest UUIDs included', () => {
    for (const id of ['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', randomUUID(), randomUUID().toUpperCase()]) {
      const token = generateToken('v2', id);
      expect(token).toMatch(/^gat_v2_[A-Za-z0-9]{60}$/);
      expect(parseGatehouseToken(token)).toEqual({ pepperVersion: 'v2', authorizationId: id.toLowerCase() });
      expect(findGatehouseTokens(`x=${token};`)).toEqual([token]);
    }
  });

  it('checksums the UTF-8 bytes as zlib does', () => {
    for (const text of ['', 'gat_1_abc', generateToken('1', randomUUID()), 'héllo wörld ✓ 🎉']) expect(crc32(text)).toBe(zlibCrc32(text));
  });

  it('refuses ids that are not UUIDs and tokens whose id part overflows 128 bits', () => {
    expect(() => generateToken('1', 'not-a-uuid')).toThrow();
    const token = generateToken('1', randomUUID());
    // 'z' × 22 is larger than 2^128: refused even with a valid checksum.
    const overflow = `gat_1_${'z'.repeat(22)}${token.slice(6 + 22, -6)}`;
    expect(parseGatehouseToken(overflow + checksumOf(overflow))).toBeUndefined();
    const fits = `gat_1_${'0'.repeat(22)}${token.slice(6 + 22, -6)}`;
    expect(parseGatehouseToken(fits + checksumOf(fits))?.authorizationId).toBe('00000000-0000-0000-0000-000000000000');
  });

  it("issues an owner's authorization ids in the owner's partition", () => {
    const owner = randomUUID();
    const ids = Array.from({ length: 20 }, () => newPatAuthorizationId(owner));
    expect(new Set(ids.map(patPartitionOf))).toEqual(new Set([ownerPartitionOf(owner)]));
    expect(new Set(ids).size).toBe(20);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(() => patPartitionOf('zz00')).toThrow();
  });
});
