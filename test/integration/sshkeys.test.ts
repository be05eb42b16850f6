import { createHash, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import sshpk from 'sshpk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client, type Reply } from '../helpers/client.js';
import { addGuest } from '../helpers/directory.js';
import { expectSwaggerValid } from '../helpers/swagger.js';
import { subjectDescriptor } from '../../shared/auth/caller.js';
import { type AuditEvent } from '../../shared/audit/events.js';
import { TABLES } from '../../shared/storage/names.js';
import { wireString } from '../../shared/sshkeys/keys.js';
import { SshKeyRepository, sshKeyRowKey } from '../../shared/sshkeys/repository.js';
import { expireSshKeyIfDue, getSshKeyForNotification } from '../../shared/sshkeys/expiry.js';
import { expiryKeys } from '../../shared/storage/expiry-keys.js';
import { CONTOSO, FABRIKAM, ALICE, BOB, CAROL, DAVE, demoUser } from '../helpers/demo.js';
import { deliverAuditQueue } from '../helpers/queues.js';

const user = demoUser;

const KEYS = '/contoso/_apis/tokens/sshkeys?api-version=7.1-preview.1';
const LOOKUP = '/_apis/tokens/sshkeys/lookup?api-version=7.1-preview.1';
const POLICIES = '/contoso/_apis/tokens/policies?api-version=7.1';
const ADMIN_71 = 'tokenAdmin/7.1/tokenAdmin.json';

let env: TestEnvironment;
const api = client(() => env);
const asDave = api.asUser('dave@contoso.com');
const asAlice = api.asUser('alice@contoso.com');
const asBob = api.asUser('bob@contoso.com');
const auditEvents: AuditEvent[] = [];
const drainedTexts: string[] = [];
/** Private key material pasted during the run, for the final scan. */
const privateSecrets: string[] = [];

const inDays = (days: number) => new Date(env.clock.now().getTime() + days * 86_400_000).toISOString();

// ---- real keys -------------------------------------------------------------------------------------

interface TestKey {
  line: string;
  fingerprint: string;
  keyType: string;
  keySize: number;
}

function fromSpki(pem: string, comment = 'me@laptop'): TestKey {
  const key = sshpk.parseKey(pem, 'pem');
  const blob = key.toBuffer('rfc4253');
  const type = blob.subarray(4, 4 + blob.readUInt32BE(0)).toString();
  return { line: `${type} ${blob.toString('base64')} ${comment}`, fingerprint: key.fingerprint('sha256').toString(), keyType: type, keySize: key.size };
}

type Generate = (type: string, options: Record<string, unknown>) => { publicKey: KeyObject };
const spki = (type: 'ed25519' | 'ec' | 'rsa' | 'dsa', options: Record<string, unknown> = {}) =>
  (generateKeyPairSync as unknown as Generate)(type, options).publicKey.export({ type: 'spki', format: 'pem' }) as string;

const newKey = {
  ed25519: () => fromSpki(spki('ed25519')),
  p256: () => fromSpki(spki('ec', { namedCurve: 'P-256' })),
  p384: () => fromSpki(spki('ec', { namedCurve: 'P-384' })),
  p521: () => fromSpki(spki('ec', { namedCurve: 'P-521' })),
  rsa2048: () => fromSpki(spki('rsa', { modulusLength: 2048 })),
  rsa3072: () => fromSpki(spki('rsa', { modulusLength: 3072 })),
  rsa1024: () => fromSpki(spki('rsa', { modulusLength: 1024 })),
  dsa: () => fromSpki(spki('dsa', { modulusLength: 2048, divisorLength: 256 })),
  /** FIDO keys, encoded by hand as OpenSSH's PROTOCOL.u2f describes (sshpk cannot write them). */
  skEd25519: (): TestKey => {
    const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    const type = 'sk-ssh-ed25519@openssh.com';
    const blob = Buffer.concat([wireString(type), wireString(Buffer.from(jwk.x as string, 'base64url')), wireString('ssh:')]);
    return { line: `${type} ${blob.toString('base64')} yubikey`, fingerprint: sha256Fingerprint(blob), keyType: type, keySize: 256 };
  },
  skEcdsa: (): TestKey => {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x as string, 'base64url'), Buffer.from(jwk.y as string, 'base64url')]);
    const type = 'sk-ecdsa-sha2-nistp256@openssh.com';
    const blob = Buffer.concat([wireString(type), wireString('nistp256'), wireString(point), wireString('ssh:')]);
    return { line: `${type} ${blob.toString('base64')} yubikey`, fingerprint: sha256Fingerprint(blob), keyType: type, keySize: 256 };
  },
};

function sha256Fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

async function addKey(email: string, body: Record<string, unknown>, organization = 'contoso'): Promise<Reply> {
  return api
    .asUser(email)
    .post(`/${organization}/_apis/tokens/sshkeys?api-version=7.1-preview.1`, { displayName: `key-${randomUUID().slice(0, 8)}`, validTo: inDays(30), ...body });
}

async function addOk(email: string, key: TestKey = newKey.ed25519(), extra: Record<string, unknown> = {}, organization = 'contoso') {
  const reply = await addKey(email, { publicData: key.line, ...extra }, organization);
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return { key, view: reply.body.sshKey as Record<string, any> };
}

async function drainAudit(): Promise<AuditEvent[]> {
  const drained = await deliverAuditQueue(env, drainedTexts);
  auditEvents.push(...drained);
  return drained;
}

async function tableRows(name: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for await (const row of env.app.storage.table(name).listEntities()) rows.push(row);
  return rows;
}

async function storedCounts(): Promise<number[]> {
  return Promise.all([TABLES.sshKeys, TABLES.sshKeyIds, TABLES.sshFingerprints, TABLES.sshExpiry].map(async (name) => (await tableRows(name)).length));
}

const setPolicy = (sshKeys: Record<string, unknown>) => asAlice.put(POLICIES, { sshKeys });
const resetPolicy = () => setPolicy({});

beforeAll(async () => {
  env = await startTestEnvironment({ now: '2025-03-01T10:00:00.000Z' });
});
afterAll(async () => {
  await env?.stop();
});

describe('adding keys', () => {
  const accepted = [
    ['ssh-ed25519', newKey.ed25519, 256],
    ['ecdsa-sha2-nistp256', newKey.p256, 256],
    ['ecdsa-sha2-nistp384', newKey.p384, 384],
    ['ecdsa-sha2-nistp521', newKey.p521, 521],
    ['ssh-rsa', newKey.rsa2048, 2048],
    ['ssh-rsa', newKey.rsa3072, 3072],
    ['sk-ssh-ed25519@openssh.com', newKey.skEd25519, 256],
    ['sk-ecdsa-sha2-nistp256@openssh.com', newKey.skEcdsa, 256],
  ] as const;

  it.each(accepted)('accepts %s keys (%#) with the ssh-keygen fingerprint', async (keyType, make, keySize) => {
    const key = make();
    const reply = await addKey('alice@contoso.com', { displayName: `laptop ${keyType}`, publicData: key.line, validTo: inDays(10) });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body.sshKeyError).toBe('none');
    expect(reply.body.sshKey).toEqual({
      authorizationId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      displayName: `laptop ${keyType}`,
      publicData: key.line,
      fingerprint: key.fingerprint,
      keyType,
      keySize,
      validFrom: env.clock.now().toISOString(),
      validTo: inDays(10),
      isValid: true,
      status: 'active',
      lastUsed: null,
      proven: false,
    });
    expect(reply.body.sshKey.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const got = await api.asUser('alice@contoso.com', { scopes: ['vso.pats'] }).get(`${KEYS}&authorizationId=${reply.body.sshKey.authorizationId}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ sshKey: reply.body.sshKey, sshKeyError: 'none' });
  });

  it('normalises whitespace, options, wrapped lines, the bare base64 part and RFC 4716 / PEM pastes', async () => {
    const variants: [(key: TestKey) => string, (key: TestKey) => string][] = [
      [(k) => `\n\n  ${k.line}  \r\n`, (k) => k.line],
      [(k) => k.line.replace(/ /g, '\t'), (k) => k.line],
      [(k) => `no-pty,command="echo hello world" ${k.line}`, (k) => k.line],
      [
        (k) => {
          const [t, b, c] = k.line.split(' ');
          return `${t} ${b!.match(/.{1,60}/g)!.join('\n')} ${c}`;
        },
        (k) => k.line,
      ],
      [(k) => k.line.split(' ')[1]!, (k) => k.line.split(' ').slice(0, 2).join(' ')],
    ];
    for (const [paste, expected] of variants) {
      const key = newKey.rsa2048();
      const reply = await addKey('alice@contoso.com', { publicData: paste(key) });
      expect(reply.status, paste(key).slice(0, 40)).toBe(200);
      expect(reply.body.sshKey.publicData).toBe(expected(key));
      expect(reply.body.sshKey.fingerprint).toBe(key.fingerprint);
    }
    const pem = spki('ec', { namedCurve: 'P-256' });
    const key = fromSpki(pem);
    const blob = Buffer.from(key.line.split(' ')[1]!, 'base64');
    const rfc4716 = `---- BEGIN SSH2 PUBLIC KEY ----\nComment: "work"\n${blob
      .toString('base64')
      .match(/.{1,70}/g)!
      .join('\n')}\n---- END SSH2 PUBLIC KEY ----\n`;
    const first = await addKey('alice@contoso.com', { publicData: rfc4716 });
    expect(first.status).toBe(200);
    expect(first.body.sshKey).toMatchObject({ fingerprint: key.fingerprint, publicData: key.line.split(' ').slice(0, 2).join(' ') });
    const again = await addKey('alice@contoso.com', { publicData: pem });
    expect(again.body.sshKeyError).toBe('duplicateHash');
  });

  it('uses the default lifespan when validTo is left out', async () => {
    const reply = await addKey('alice@contoso.com', { publicData: newKey.ed25519().line, validTo: undefined });
    expect(reply.status).toBe(200);
    expect(reply.body.sshKey.validTo).toBe(inDays(365));
  });
});

describe('refusals', () => {
  const ed = () => newKey.ed25519().line;
  const base64 = (line: string) => line.split(' ')[1]!;
  const cases: [string, () => unknown, number, string][] = [
    ['DSA', () => ({ publicData: newKey.dsa().line }), 400, 'dsaKeyNotAllowed'],
    ['RSA 1024', () => ({ publicData: newKey.rsa1024().line }), 400, 'rsaKeyTooShort'],
    [
      'a certificate',
      () => {
        const { privateKey } = generateKeyPairSync('ed25519');
        const ca = sshpk.parsePrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }), 'pem');
        const subject = sshpk.parseKey(spki('ed25519'), 'pem');
        const cert = sshpk.createCertificate(sshpk.identityForUser('alice'), subject, sshpk.identityForUser('ca'), ca, { lifetime: 3600 });
        return { publicData: cert.toString('openssh') };
      },
      400,
      'sshCertificateNotAllowed',
    ],
    ['truncated base64', () => ({ publicData: ed().slice(0, 50) }), 400, 'invalidPublicKey'],
    ['base64 cut short', () => ({ publicData: `ssh-ed25519 ${base64(ed()).slice(0, -12)}` }), 400, 'invalidPublicKey'],
    ['a type that does not match the data', () => ({ publicData: `ecdsa-sha2-nistp256 ${base64(ed())}` }), 400, 'invalidPublicKey'],
    [
      'an unknown type',
      () => ({ publicData: `ssh-xmss@openssh.com ${Buffer.concat([wireString('ssh-xmss@openssh.com'), wireString('x')]).toString('base64')}` }),
      400,
      'unsupportedKeyType',
    ],
    ['garbage', () => ({ publicData: 'please let me in' }), 400, 'invalidPublicKey'],
    ['two keys', () => ({ publicData: `${ed()}\n${ed()}` }), 400, 'multiplePublicKeys'],
    ['an empty key', () => ({ publicData: '  ' }), 400, 'publicDataRequired'],
    ['no publicData', () => ({ publicData: undefined }), 400, 'publicDataRequired'],
    ['a number as publicData', () => ({ publicData: 42 }), 400, 'publicDataRequired'],
    ['a huge publicData', () => ({ publicData: `${ed()} ${'x'.repeat(20_000)}` }), 400, 'invalidPublicKey'],
    ['a long comment', () => ({ publicData: `${ed()} ${'x'.repeat(1500)}` }), 400, 'invalidPublicKey'],
    ['no displayName', () => ({ publicData: ed(), displayName: undefined }), 400, 'displayNameRequired'],
    ['a past validTo', () => ({ publicData: ed(), validTo: '2020-01-01T00:00:00Z' }), 400, 'invalidValidTo'],
    ['a bad validTo', () => ({ publicData: ed(), validTo: 'tomorrow' }), 400, 'invalidValidTo'],
    ['an unknown field', () => ({ publicData: ed(), isPublic: true }), 400, 'invalidRequestBody'],
  ];

  it.each(cases)('refuses %s with a code and stores nothing', async (_name, body, status, code) => {
    const before = await storedCounts();
    const reply = await addKey('bob@contoso.com', body() as Record<string, unknown>);
    expect(reply.status, JSON.stringify(reply.body)).toBe(status);
    if (code === 'invalidRequestBody') expect(reply.body.code).toBe(code);
    else expect(reply.body).toEqual({ sshKey: null, sshKeyError: code, sshKeyErrorMessage: expect.any(String) });
    expect(reply.headers.get('x-gatehouse-error')).toBe(code);
    expect(await storedCounts()).toEqual(before);
  });

  it('refuses pasted private keys with their own code and never echoes, stores or logs them', async () => {
    const { privateKey: ed25519 } = generateKeyPairSync('ed25519');
    const { privateKey: rsa } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { privateKey: ec } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const pkcs8 = ed25519.export({ type: 'pkcs8', format: 'pem' }) as string;
    const openssh = sshpk.parsePrivateKey(pkcs8, 'pem').toString('openssh');
    const pastes = [
      pkcs8,
      openssh,
      rsa.export({ type: 'pkcs1', format: 'pem' }) as string,
      ec.export({ type: 'sec1', format: 'pem' }) as string,
      (rsa.export({ type: 'pkcs8', format: 'der' }) as Buffer).toString('base64'),
      openssh.split('\n').slice(1, -2).join('\n'),
      `${ed()}\n${openssh}`,
    ];
    const before = await storedCounts();
    for (const paste of pastes) {
      privateSecrets.push(
        ...paste
          .split('\n')
          .filter((line) => line.length >= 40 && !line.startsWith('ssh-'))
          .map((line) => line.slice(0, 60)),
      );
      const reply = await addKey('bob@contoso.com', { publicData: paste });
      expect(reply.status).toBe(400);
      expect(reply.body.sshKeyError).toBe('privateKeyNotAllowed');
      expect(JSON.stringify(reply.body)).not.toContain(paste.split('\n')[1]?.slice(0, 30) ?? paste.slice(10, 40));
    }
    const named = await addKey('bob@contoso.com', { publicData: ed(), displayName: '-----BEGIN OPENSSH PRIVATE KEY-----' });
    expect(named.body.sshKeyError).toBe('privateKeyNotAllowed');
    expect(await storedCounts()).toEqual(before);
    const lookup = await api.as(await env.appToken('gitserver')).post(LOOKUP, { publicKey: pkcs8 });
    expect(lookup.status).toBe(400);
    expect(lookup.body.code).toBe('privateKeyNotAllowed');
  });

  it('answers 413 to huge bodies, 400 to broken JSON and 415 to other media types', async () => {
    const huge = await asAlice.post(KEYS, JSON.stringify({ displayName: 'x', publicData: 'A'.repeat(2 * 1024 * 1024) }));
    expect(huge.status).toBe(413);
    expect(huge.body.code).toBe('requestBodyTooLarge');
    const broken = await asAlice.post(KEYS, '{"displayName":');
    expect(broken.status).toBe(400);
    expect(broken.body.code).toBe('invalidJson');
    const text = await asAlice.post(KEYS, newKey.ed25519().line, { contentType: 'text/plain' });
    expect(text.status).toBe(415);
  });

  it('needs the PAT-management scope to change keys and the read scope to list them', async () => {
    const write = await addKey('alice@contoso.com', { publicData: newKey.ed25519().line });
    expect(write.status).toBe(200);
    const readOnly = await api.asUser('alice@contoso.com', { scopes: ['vso.pats'] }).post(KEYS, { displayName: 'x', publicData: newKey.ed25519().line });
    expect(readOnly.status).toBe(403);
    expect(readOnly.body.code).toBe('insufficientScope');
    expect((await api.asUser('alice@contoso.com', { scopes: ['vso.code'] }).get(KEYS)).status).toBe(403);
    const app = await api.as(await env.appToken('gitserver')).get(KEYS);
    expect(app.status).toBe(403);
    expect((await api.asUser('erin@fabrikam.com').get(KEYS)).status).toBe(404);
    // Project-Scoped Users manage their own keys.
    expect((await addKey('carol@contoso.com', { publicData: newKey.ed25519().line })).status).toBe(200);
  });
});

describe('duplicates', () => {
  it('refuses the same key twice in an organization, by anyone, but allows it in another organization', async () => {
    const key = newKey.p256();
    await addOk('alice@contoso.com', key);
    for (const email of ['alice@contoso.com', 'bob@contoso.com']) {
      const again = await addKey(email, { publicData: key.line.replace('me@laptop', 'other comment') });
      expect(again.status).toBe(409);
      expect(again.body.sshKeyError).toBe('duplicateHash');
    }
    const elsewhere = await addKey('erin@fabrikam.com', { publicData: key.line }, 'fabrikam');
    expect(elsewhere.status).toBe(200);
  });

  it('lets exactly one of many concurrent adds of the same key succeed', async () => {
    const key = newKey.ed25519();
    const emails = ['alice@contoso.com', 'bob@contoso.com', 'dave@contoso.com', 'carol@contoso.com', 'alice@contoso.com', 'bob@contoso.com'];
    const replies = await Promise.all(emails.map((email) => addKey(email, { publicData: key.line })));
    expect(replies.filter((reply) => reply.status === 200)).toHaveLength(1);
    expect(replies.filter((reply) => reply.status === 409).every((reply) => reply.body.sshKeyError === 'duplicateHash')).toBe(true);
    expect(replies.filter((reply) => reply.status === 409)).toHaveLength(emails.length - 1);
    const claims = (await tableRows(TABLES.sshFingerprints)).filter((row) => row.rowKey === CONTOSO && row.partitionKey === fingerprintHex(key));
    expect(claims).toHaveLength(1);
  });

  it('keeps revoked and expired keys reserved, frees removed ones, and blocks keys an administrator revoked', async () => {
    const key = newKey.ed25519();
    const { view } = await addOk('dave@contoso.com', key);
    expect((await asDave.delete(`${KEYS}&authorizationId=${view.authorizationId}`)).status).toBe(204);
    expect((await addKey('dave@contoso.com', { publicData: key.line })).body.sshKeyError).toBe('duplicateHash');
    expect((await asDave.delete(`${KEYS}&authorizationId=${view.authorizationId}&remove=true`)).status).toBe(204);
    const readded = await addOk('dave@contoso.com', key);

    const revoked = await asAlice.post('/contoso/_apis/tokenadmin/revocations?api-version=7.1&isPublic=true', [
      { authorizationId: readded.view.authorizationId },
    ]);
    expect(revoked.status).toBe(204);
    expect((await asDave.delete(`${KEYS}&authorizationId=${readded.view.authorizationId}&remove=true`)).status).toBe(204);
    const blocked = await addKey('dave@contoso.com', { publicData: key.line });
    expect(blocked.status).toBe(409);
    expect(blocked.body).toMatchObject({ sshKeyError: 'duplicateHash', sshKeyErrorMessage: expect.stringContaining('administrator') });
  });

  it('takes over a claim whose create never finished', async () => {
    const key = newKey.ed25519();
    await env.app.storage.table(TABLES.sshFingerprints).createEntity({
      partitionKey: fingerprintHex(key),
      rowKey: CONTOSO,
      ownerId: BOB.id,
      authorizationId: randomUUID(),
      claimedAt: env.clock.now().toISOString(),
      blocked: false,
    });
    expect((await addKey('alice@contoso.com', { publicData: key.line })).status).toBe(409);
    env.clock.advance(5 * 60_000);
    expect((await addKey('alice@contoso.com', { publicData: key.line })).status).toBe(200);
  });
});

function fingerprintHex(key: TestKey): string {
  return Buffer.from(`${key.fingerprint.slice(7)}=`, 'base64').toString('hex');
}

describe('listing, updating, revoking and removing', () => {
  it('lists with filters, sorting and signed continuation tokens, only the caller’s keys in this organization', async () => {
    const made: string[] = [];
    for (const name of ['delta', 'alpha', 'charlie', 'bravo', 'echo']) {
      made.push((await addOk('dave@contoso.com', newKey.ed25519(), { displayName: name, validTo: inDays(10 + made.length) })).view.authorizationId);
    }
    await asDave.delete(`${KEYS}&authorizationId=${made[4]}`);
    const all = await asDave.get(`${KEYS}&displayFilterOption=all`);
    const names = all.body.sshKeys.map((key: { displayName: string }) => key.displayName);
    expect(names).toEqual([...names].sort((a: string, b: string) => a.toLowerCase().localeCompare(b.toLowerCase())));
    expect(names).toEqual(expect.arrayContaining(['alpha', 'bravo', 'charlie', 'delta', 'echo']));
    const active = await asDave.get(KEYS);
    expect(active.body.sshKeys.map((key: { displayName: string }) => key.displayName)).not.toContain('echo');
    const revoked = await asDave.get(`${KEYS}&displayFilterOption=Revoked`);
    expect(revoked.body.sshKeys.map((key: { displayName: string }) => key.displayName)).toContain('echo');
    expect(revoked.body.sshKeys.every((key: { isValid: boolean; status: string }) => !key.isValid && key.status === 'revoked')).toBe(true);

    const seen: string[] = [];
    let continuation = '';
    do {
      const page: Reply = await asDave.get(
        `${KEYS}&displayFilterOption=all&sortByOption=displayDate&isSortAscending=false&$top=2${continuation ? `&continuationToken=${continuation}` : ''}`,
      );
      expect(page.status).toBe(200);
      expect(page.body.sshKeys.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.sshKeys.map((key: { authorizationId: string }) => key.authorizationId));
      continuation = page.body.continuationToken;
      if (continuation) {
        const rebound = await asDave.get(`${KEYS}&displayFilterOption=active&continuationToken=${continuation}`);
        expect(rebound.status).toBe(400);
        expect(rebound.body.code).toBe('invalidContinuationToken');
      }
    } while (continuation);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(all.body.sshKeys.length);
    const validTos = await Promise.all(seen.map(async (id) => (await asDave.get(`${KEYS}&authorizationId=${id}`)).body.sshKey.validTo));
    expect(validTos).toEqual([...validTos].sort().reverse());

    const forged = await asDave.get(`${KEYS}&continuationToken=eyJ2IjoxfQ.AAAA`);
    expect(forged.body.code).toBe('invalidContinuationToken');
    const bob = await asBob.get(`${KEYS}&displayFilterOption=all`);
    expect(bob.body.sshKeys.some((key: { authorizationId: string }) => made.includes(key.authorizationId))).toBe(false);
    const foreign = await asBob.get(`${KEYS}&authorizationId=${made[0]}`);
    expect(foreign.status).toBe(404);
    expect(foreign.body.sshKeyError).toBe('authorizationNotFound');
    const badQuery = await asDave.get(`${KEYS}&$top=1000`);
    expect(badQuery.status).toBe(400);
  });

  it('keeps keys per organization', async () => {
    await addGuest(env, 'erin@fabrikam.com', 'fabrikam', 'alice@contoso.com');
    const { view } = await addOk('alice@contoso.com', newKey.ed25519(), {}, 'fabrikam');
    const inContoso = await asAlice.get(`${KEYS}&authorizationId=${view.authorizationId}`);
    expect(inContoso.status).toBe(403);
    expect(inContoso.body.sshKeyError).toBe('accessDenied');
    const list = await asAlice.get(`${KEYS}&displayFilterOption=all`);
    expect(list.body.sshKeys.some((key: { authorizationId: string }) => key.authorizationId === view.authorizationId)).toBe(false);
  });

  it('renames and changes validTo, moving the expiry row; refuses revoked and expired keys', async () => {
    const { view } = await addOk('bob@contoso.com', newKey.ed25519(), { displayName: 'before', validTo: inDays(5) });
    const oldRow = expiryKeys(view.validTo, view.authorizationId);
    const renamed = await asBob.put(KEYS, { authorizationId: view.authorizationId, displayName: 'after' });
    expect(renamed.status).toBe(200);
    expect(renamed.body.sshKey).toMatchObject({ displayName: 'after', validTo: view.validTo, publicData: view.publicData });
    const extended = await asBob.put(KEYS, { authorizationId: view.authorizationId, validTo: inDays(90) });
    expect(extended.body.sshKey).toMatchObject({ displayName: 'after', validTo: inDays(90), validFrom: view.validFrom });
    const rows = (await tableRows(TABLES.sshExpiry)).filter((row) => String(row.rowKey).endsWith(view.authorizationId));
    const newRow = expiryKeys(inDays(90), view.authorizationId);
    expect(rows).toEqual([expect.objectContaining({ ...newRow, ownerId: BOB.id, authorizationId: view.authorizationId, organizationId: CONTOSO })]);
    expect(oldRow.partitionKey).not.toBe(newRow.partitionKey);

    for (const [body, code] of [
      [{ authorizationId: view.authorizationId, validTo: 'soon' }, 'invalidValidTo'],
      [{ authorizationId: 'nope' }, 'invalidAuthorizationId'],
      [{ authorizationId: randomUUID(), displayName: 'x' }, 'authorizationNotFound'],
      [{ authorizationId: view.authorizationId, displayName: '' }, 'displayNameRequired'],
      [{ authorizationId: view.authorizationId, publicData: newKey.ed25519().line }, 'invalidRequestBody'],
    ] as const) {
      const reply = await asBob.put(KEYS, body);
      expect(reply.headers.get('x-gatehouse-error') ?? reply.body.code, JSON.stringify(body)).toBe(code);
    }

    const short = await addOk('bob@contoso.com', newKey.ed25519(), { validTo: inDays(1) });
    env.clock.advance(2 * 86_400_000);
    const expired = await asBob.put(KEYS, { authorizationId: short.view.authorizationId, validTo: inDays(30) });
    expect(expired.status).toBe(400);
    expect(expired.body.sshKeyError).toBe('expiredSshKeyCannotBeExtended');
    const listed = await asBob.get(`${KEYS}&displayFilterOption=expired`);
    expect(listed.body.sshKeys.map((key: { authorizationId: string }) => key.authorizationId)).toContain(short.view.authorizationId);

    expect((await asBob.delete(`${KEYS}&authorizationId=${view.authorizationId}`)).status).toBe(204);
    const revoked = await asBob.put(KEYS, { authorizationId: view.authorizationId, displayName: 'again' });
    expect(revoked.status).toBe(409);
    expect(revoked.body.sshKeyError).toBe('failedToUpdateAccessToken');
    expect((await tableRows(TABLES.sshExpiry)).some((row) => String(row.rowKey).endsWith(view.authorizationId))).toBe(false);
  });

  it('revokes idempotently and removes entirely, with audit events atomic with the change', async () => {
    await drainAudit();
    const { view } = await addOk('dave@contoso.com', newKey.p384(), { displayName: 'audited' });
    await asDave.put(KEYS, { authorizationId: view.authorizationId, displayName: 'audited-2' });
    expect((await asDave.delete(`${KEYS}&authorizationId=${view.authorizationId}`)).status).toBe(204);
    expect((await asDave.delete(`${KEYS}&authorizationId=${view.authorizationId}`)).status).toBe(204);
    const got = await asDave.get(`${KEYS}&authorizationId=${view.authorizationId}`);
    expect(got.body.sshKey).toMatchObject({ isValid: false, status: 'revoked' });
    expect((await asDave.delete(`${KEYS}&authorizationId=${view.authorizationId}&remove=true`)).status).toBe(204);
    const gone = await asDave.get(`${KEYS}&authorizationId=${view.authorizationId}`);
    expect(gone.status).toBe(404);
    const again = await asDave.delete(`${KEYS}&authorizationId=${view.authorizationId}&remove=true`);
    expect(again.status).toBe(404);
    expect(again.body.sshKeyError).toBe('authorizationNotFound');
    expect(await new SshKeyRepository(env.app).getById(view.authorizationId)).toBeUndefined();
    expect((await tableRows(TABLES.sshFingerprints)).some((row) => row.authorizationId === view.authorizationId)).toBe(false);

    const events = (await drainAudit()).filter((event) => event.data.AuthorizationId === view.authorizationId);
    expect(events.map((event) => event.actionId)).toEqual(['Token.SshCreateEvent', 'Token.SshUpdateEvent', 'Token.SshRevokeEvent', 'Token.SshRemoveEvent']);
    for (const event of events) {
      expect(event).toMatchObject({ organizationId: CONTOSO, area: 'Token', actor: { id: DAVE.id, kind: 'user' } });
      expect(event.data).toMatchObject({ Fingerprint: view.fingerprint, KeyType: 'ecdsa-sha2-nistp384', OwnerId: DAVE.id, TokenType: 'SshPublicKey' });
    }
    expect(events[1]?.data).toMatchObject({ DisplayName: 'audited-2', Previous: { DisplayName: 'audited' } });
    expect(events[2]?.data).toMatchObject({ RevocationKind: 'user' });
    expect(events[3]?.data).toMatchObject({ Status: 'revoked', PublicData: view.publicData });
    // Stored events leave no outbox rows behind.
    expect((await tableRows(TABLES.sshKeys)).filter((row) => String(row.rowKey).startsWith('outbox_'))).toEqual([]);
  });

  it('answers 404 for unknown ids and 400 for bad ones', async () => {
    const unknown = await asAlice.delete(`${KEYS}&authorizationId=${randomUUID()}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.sshKeyError).toBe('authorizationNotFound');
    const bad = await asAlice.delete(`${KEYS}&authorizationId=x`);
    expect(bad.status).toBe(400);
    expect(bad.body.sshKeyError).toBe('invalidAuthorizationId');
    expect((await asAlice.delete(KEYS)).status).toBe(400);
    expect((await asAlice.delete(`${KEYS}&authorizationId=${randomUUID()}&remove=maybe`)).status).toBe(400);
  });
});

describe('policies', () => {
  it('shows the SSH section with its defaults and validates it', async () => {
    const reply = await asAlice.get(POLICIES);
    expect(reply.body.sshKeys).toEqual({
      allowed: true,
      allowedKeyTypes: [
        'ssh-ed25519',
        'ecdsa-sha2-nistp256',
        'ecdsa-sha2-nistp384',
        'ecdsa-sha2-nistp521',
        'ssh-rsa',
        'sk-ssh-ed25519@openssh.com',
        'sk-ecdsa-sha2-nistp256@openssh.com',
      ],
      minimumRsaBits: 2048,
      maxLifespanDays: null,
      defaultLifespanDays: 365,
      exemptUsers: [],
    });
    for (const sshKeys of [
      { minimumRsaBits: 1024 },
      { allowedKeyTypes: ['ssh-dss'] },
      { allowedKeyTypes: [] },
      { maxLifespanDays: 0 },
      { allowed: 'no' },
      { extra: 1 },
    ]) {
      const bad = await setPolicy(sshKeys);
      expect(bad.status, JSON.stringify(sshKeys)).toBe(400);
    }
  });

  it('refuses keys when SSH is off (sshPolicyDisabled) and hides existing keys from lookups', async () => {
    const { key, view } = await addOk('bob@contoso.com', newKey.ed25519());
    const gitserver = await env.appToken('gitserver');
    expect((await api.as(gitserver).post(LOOKUP, { fingerprint: key.fingerprint })).status).toBe(200);
    expect((await setPolicy({ allowed: false, exemptUsers: [BOB.id] })).status).toBe(200);
    try {
      const refused = await addKey('bob@contoso.com', { publicData: newKey.ed25519().line });
      expect(refused.status).toBe(403);
      expect(refused.body.sshKeyError).toBe('sshPolicyDisabled');
      const update = await asBob.put(KEYS, { authorizationId: view.authorizationId, validTo: inDays(40) });
      expect(update.body.sshKeyError).toBe('sshPolicyDisabled');
      expect((await api.as(gitserver).post(LOOKUP, { fingerprint: key.fingerprint })).status).toBe(404);
      expect((await asBob.get(`${KEYS}&authorizationId=${view.authorizationId}`)).status).toBe(200);
    } finally {
      await resetPolicy();
    }
    expect((await api.as(gitserver).post(LOOKUP, { fingerprint: key.fingerprint })).status).toBe(200);
  });

  it('enforces allowed key types and a minimum RSA size, except for exempt users', async () => {
    expect((await setPolicy({ allowedKeyTypes: ['ssh-ed25519', 'ssh-rsa'], minimumRsaBits: 3072, exemptUsers: [ALICE.id] })).status).toBe(200);
    try {
      const ecdsa = await addKey('bob@contoso.com', { publicData: newKey.p256().line });
      expect(ecdsa.status).toBe(403);
      expect(ecdsa.body.sshKeyError).toBe('keyTypePolicyViolation');
      const rsa = await addKey('bob@contoso.com', { publicData: newKey.rsa2048().line });
      expect(rsa.body.sshKeyError).toBe('rsaKeySizePolicyViolation');
      expect((await addKey('bob@contoso.com', { publicData: newKey.rsa3072().line })).status).toBe(200);
      expect((await addKey('bob@contoso.com', { publicData: newKey.ed25519().line })).status).toBe(200);
      expect((await addKey('alice@contoso.com', { publicData: newKey.p256().line })).status).toBe(200);
      // Gatehouse's own floor applies to everyone.
      expect((await addKey('alice@contoso.com', { publicData: newKey.rsa1024().line })).body.sshKeyError).toBe('rsaKeyTooShort');
    } finally {
      await resetPolicy();
    }
  });

  it('clamps validTo to the maximum lifespan (create: now + max; update: validFrom + max) and applies the default lifespan', async () => {
    expect((await setPolicy({ maxLifespanDays: 30, defaultLifespanDays: 7 })).status).toBe(200);
    try {
      await drainAudit();
      const clamped = await addOk('bob@contoso.com', newKey.ed25519(), { validTo: inDays(400) });
      expect(clamped.view.validTo).toBe(inDays(30));
      const created = (await drainAudit()).find((event) => event.data.AuthorizationId === clamped.view.authorizationId);
      expect(created?.data).toMatchObject({ ValidTo: inDays(30), RequestedValidTo: inDays(400) });
      const defaulted = await addOk('bob@contoso.com', newKey.ed25519(), { validTo: undefined });
      expect(defaulted.view.validTo).toBe(inDays(7));
      env.clock.advance(10 * 86_400_000);
      const updated = await asBob.put(KEYS, { authorizationId: clamped.view.authorizationId, validTo: inDays(100) });
      expect(updated.body.sshKey.validTo).toBe(new Date(Date.parse(clamped.view.validFrom) + 30 * 86_400_000).toISOString());
    } finally {
      await resetPolicy();
    }
  });
});

describe('token admin (isPublic=true)', () => {
  const ADMIN = '/contoso/_apis/tokenadmin';

  it('lists a member’s keys as session tokens and revokes them by authorizationId', async () => {
    const erinKey = await addOk('erin@fabrikam.com', newKey.ed25519(), {}, 'fabrikam');
    const keys = [await addOk('bob@contoso.com', newKey.skEd25519()), await addOk('bob@contoso.com', newKey.p521())];
    const descriptor = subjectDescriptor('user', BOB.id);
    const list = await asAlice.get(`${ADMIN}/personalaccesstokens/${descriptor}?api-version=7.1&isPublic=true&pageSize=100`);
    expect(list.status).toBe(200);
    expectSwaggerValid(ADMIN_71, 'TokenAdminPagedSessionTokens', list.body, { exact: true });
    const ids = list.body.value.map((token: { authorizationId: string }) => token.authorizationId);
    for (const { view } of keys) expect(ids).toContain(view.authorizationId);
    const listed = list.body.value.find((token: { authorizationId: string }) => token.authorizationId === keys[0]!.view.authorizationId);
    expect(listed).toMatchObject({
      isPublic: true,
      isValid: true,
      publicData: keys[0]!.view.publicData,
      userId: BOB.id,
      targetAccounts: [CONTOSO],
      token: null,
    });
    const pats = await asAlice.get(`${ADMIN}/personalaccesstokens/${descriptor}?api-version=7.1`);
    expect(pats.body.value.some((token: { isPublic: boolean }) => token.isPublic)).toBe(false);
    const paged = await asAlice.get(`${ADMIN}/personalaccesstokens/${descriptor}?api-version=7.1&isPublic=true&pageSize=1`);
    expect(paged.body.value).toHaveLength(1);
    expect(paged.body.continuationToken).toMatch(/^[0-9a-f-]{36}$/);

    await drainAudit();
    const revoke = await asAlice.post(`${ADMIN}/revocations?api-version=7.1&isPublic=true`, [{ authorizationId: keys[0]!.view.authorizationId }]);
    expect(revoke.status).toBe(204);
    const after = await asBob.get(`${KEYS}&authorizationId=${keys[0]!.view.authorizationId}`);
    expect(after.body.sshKey).toMatchObject({ status: 'revoked', isValid: false });
    const events = await drainAudit();
    expect(events.filter((event) => event.data.AuthorizationId === keys[0]!.view.authorizationId)).toEqual([
      expect.objectContaining({
        actionId: 'Token.SshRevokeEvent',
        actor: expect.objectContaining({ id: ALICE.id }),
        data: expect.objectContaining({ RevocationKind: 'admin', OwnerName: BOB.displayName }),
      }),
    ]);

    const refusals: [unknown, string, number, string][] = [
      [[{ authorizationId: randomUUID() }], 'true', 404, 'authorizationNotFound'],
      [[{ authorizationId: erinKey.view.authorizationId }], 'true', 404, 'authorizationNotFound'],
      [[{ authorizationId: keys[1]!.view.authorizationId }], 'false', 404, 'authorizationNotFound'],
    ];
    for (const [body, isPublic, status, code] of refusals) {
      const reply = await asAlice.post(`${ADMIN}/revocations?api-version=7.1&isPublic=${isPublic}`, body);
      expect(reply.status).toBe(status);
      expect(reply.body.code).toBe(code);
    }
    const notAdmin = await asBob.post(`${ADMIN}/revocations?api-version=7.1&isPublic=true`, [{ authorizationId: keys[1]!.view.authorizationId }]);
    expect(notAdmin.status).toBe(403);
    expect((await asBob.get(`${KEYS}&authorizationId=${keys[1]!.view.authorizationId}`)).body.sshKey.isValid).toBe(true);
  });
});

describe('key lookup for git servers', () => {
  it('finds active keys by fingerprint or public key with owner, organization and validity', async () => {
    const key = newKey.ed25519();
    const { view } = await addOk('dave@contoso.com', key, { displayName: 'dave laptop' });
    const gitserver = await env.appToken('gitserver');
    const expected = {
      count: 1,
      value: [
        {
          authorizationId: view.authorizationId,
          displayName: 'dave laptop',
          fingerprint: key.fingerprint,
          keyType: 'ssh-ed25519',
          keySize: 256,
          validFrom: view.validFrom,
          validTo: view.validTo,
          isValid: true,
          owner: { id: DAVE.id, displayName: DAVE.displayName, principalName: DAVE.email, descriptor: subjectDescriptor('user', DAVE.id) },
          organization: { id: CONTOSO, name: 'contoso' },
          proven: false,
        },
      ],
    };
    for (const body of [
      { fingerprint: key.fingerprint },
      { fingerprint: `${key.fingerprint}=` },
      { publicKey: key.line },
      { publicKey: `no-pty ${key.line.split(' ').slice(0, 2).join(' ')}` },
      { fingerprint: key.fingerprint, organization: 'contoso' },
      { fingerprint: key.fingerprint, organization: CONTOSO },
    ]) {
      const reply = await api.as(gitserver).post(LOOKUP, body);
      expect(reply.status, JSON.stringify(body)).toBe(200);
      expect(reply.body).toEqual(expected);
    }
    const otherOrg = await api.as(gitserver).post(LOOKUP, { fingerprint: key.fingerprint, organization: 'fabrikam' });
    expect(otherOrg.status).toBe(404);
    expect(otherOrg.body.code).toBe('sshKeyNotFound');
  });

  it('finds the same key in each organization that registered it', async () => {
    const key = newKey.p256();
    await addOk('bob@contoso.com', key);
    await addOk('erin@fabrikam.com', key, {}, 'fabrikam');
    const reply = await api.as(await env.appToken('gitserver')).post(LOOKUP, { fingerprint: key.fingerprint });
    expect(reply.body.count).toBe(2);
    expect(reply.body.value.map((match: { organization: { id: string }; owner: { id: string } }) => [match.organization.id, match.owner.id])).toEqual([
      [CONTOSO, BOB.id],
      [FABRIKAM, user('erin@fabrikam.com').id],
    ]);
  });

  it('records last use at most once a minute', async () => {
    const key = newKey.ed25519();
    const { view } = await addOk('dave@contoso.com', key);
    const gitserver = await env.appToken('gitserver');
    const lastUsed = async () => (await asDave.get(`${KEYS}&authorizationId=${view.authorizationId}`)).body.sshKey.lastUsed;
    const first = env.clock.now().toISOString();
    await api.as(gitserver).post(LOOKUP, { fingerprint: key.fingerprint });
    expect(await lastUsed()).toBe(first);
    env.clock.advance(30_000);
    await api.as(gitserver).post(LOOKUP, { fingerprint: key.fingerprint });
    expect(await lastUsed()).toBe(first);
    env.clock.advance(31_000);
    await api.as(gitserver).post(LOOKUP, { fingerprint: key.fingerprint });
    expect(await lastUsed()).toBe(env.clock.now().toISOString());
    // Use is not an audited change.
    expect((await drainAudit()).some((event) => event.data.AuthorizationId === view.authorizationId && event.actionId !== 'Token.SshCreateEvent')).toBe(false);
  });

  it('does not find revoked, expired or removed keys, nor keys of people who left', async () => {
    const gitserver = await env.appToken('gitserver');
    const lookup = async (key: TestKey) => (await api.as(gitserver).post(LOOKUP, { fingerprint: key.fingerprint })).status;
    const revoked = await addOk('bob@contoso.com', newKey.ed25519());
    await asBob.delete(`${KEYS}&authorizationId=${revoked.view.authorizationId}`);
    expect(await lookup(revoked.key)).toBe(404);
    const removed = await addOk('bob@contoso.com', newKey.ed25519());
    await asBob.delete(`${KEYS}&authorizationId=${removed.view.authorizationId}&remove=true`);
    expect(await lookup(removed.key)).toBe(404);
    const expiring = await addOk('bob@contoso.com', newKey.ed25519(), { validTo: new Date(env.clock.now().getTime() + 3_600_000).toISOString() });
    expect(await lookup(expiring.key)).toBe(200);
    env.clock.advance(3_600_000);
    expect(await lookup(expiring.key)).toBe(404);
    const leaver = await addOk('carol@contoso.com', newKey.ed25519());
    expect(await lookup(leaver.key)).toBe(200);
    await env.app.directory.deleteMembership(CONTOSO, 'user', CAROL.id);
    expect(await lookup(leaver.key)).toBe(404);
  });

  it('admits only service principals with the introspection role and validates the request', async () => {
    const key = newKey.ed25519();
    await addOk('alice@contoso.com', key);
    const user = await asAlice.post(LOOKUP, { fingerprint: key.fingerprint });
    expect(user.status).toBe(403);
    expect(user.body.code).toBe('callerTypeNotAllowed');
    const pipelines = await api.as(await env.appToken('pipelines')).post(LOOKUP, { fingerprint: key.fingerprint });
    expect(pipelines.status).toBe(403);
    expect(pipelines.body.code).toBe('missingAppRole');
    const noMember = await api.as(await env.appToken('pipelines', { roles: ['Gatehouse.TokenIntrospection'] })).post(LOOKUP, { fingerprint: key.fingerprint });
    expect(noMember.status).toBe(200);
    const gitserver = await env.appToken('gitserver');
    for (const [body, status, code] of [
      [{}, 400, 'invalidRequestBody'],
      [{ fingerprint: key.fingerprint, publicKey: key.line }, 400, 'invalidRequestBody'],
      [{ fingerprint: 'MD5:aa:bb' }, 400, 'invalidFingerprint'],
      [{ fingerprint: key.fingerprint.slice(0, -2) }, 400, 'invalidFingerprint'],
      [{ publicKey: 'ssh-ed25519 AAAA' }, 400, 'invalidPublicKey'],
      [{ publicKey: newKey.dsa().line }, 400, 'dsaKeyNotAllowed'],
      [{ fingerprint: key.fingerprint, organization: 'nowhere' }, 404, 'organizationNotFound'],
      [{ fingerprint: newKey.ed25519().fingerprint }, 404, 'sshKeyNotFound'],
    ] as const) {
      const reply = await api.as(gitserver).post(LOOKUP, body);
      expect(reply.status, JSON.stringify(body)).toBe(status);
      expect(reply.body.code).toBe(code);
    }
    expect((await api.as(gitserver).post('/_apis/tokens/sshkeys/lookup', { fingerprint: key.fingerprint })).body.code).toBe('apiVersionRequired');
  });
});

describe('expiry contract with the lifecycle timer', () => {
  it('keeps sshexpiry rows in the patexpiry layout and expires keys exactly once', async () => {
    const validTo = new Date(env.clock.now().getTime() + 2 * 3_600_000);
    validTo.setUTCMinutes(17, 5, 250);
    const { view } = await addOk('dave@contoso.com', newKey.ed25519(), { displayName: 'expiring', validTo: validTo.toISOString() });
    const ms = Date.parse(view.validTo);
    const row = (await tableRows(TABLES.sshExpiry)).find((candidate) => String(candidate.rowKey).endsWith(view.authorizationId));
    expect(row).toMatchObject({
      partitionKey: view.validTo.slice(0, 13).replace(/[-T]/g, ''),
      rowKey: `${String(ms).padStart(13, '0')}_${view.authorizationId}`,
      ownerId: DAVE.id,
      authorizationId: view.authorizationId,
      organizationId: CONTOSO,
    });
    expect(String(row?.partitionKey)).toMatch(/^\d{10}$/);

    const now = () => env.clock.now();
    expect(await expireSshKeyIfDue(env.app, DAVE.id, view.authorizationId, now())).toBe('notDue');
    expect(await getSshKeyForNotification(env.app, DAVE.id, view.authorizationId)).toEqual({
      authorizationId: view.authorizationId,
      ownerId: DAVE.id,
      ownerDisplayName: DAVE.displayName,
      ownerEmail: DAVE.email,
      organizationId: CONTOSO,
      organizationName: 'contoso',
      displayName: 'expiring',
      fingerprint: view.fingerprint,
      keyType: 'ssh-ed25519',
      validTo: view.validTo,
      status: 'active',
      expiredEventAt: null,
    });
    env.clock.advance(3 * 3_600_000);
    await drainAudit();
    const outcomes = await Promise.all([1, 2, 3, 4].map(() => expireSshKeyIfDue(env.app, DAVE.id, view.authorizationId, now())));
    expect(outcomes.filter((outcome) => outcome === 'expired')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === 'alreadyDone')).toHaveLength(3);
    expect(await expireSshKeyIfDue(env.app, DAVE.id, view.authorizationId, now())).toBe('alreadyDone');
    const events = (await drainAudit()).filter((event) => event.data.AuthorizationId === view.authorizationId);
    expect(events).toEqual([
      expect.objectContaining({
        actionId: 'Token.SshExpireEvent',
        organizationId: CONTOSO,
        actor: expect.objectContaining({ kind: 'system' }),
        data: expect.objectContaining({ DisplayName: 'expiring', OwnerId: DAVE.id, Fingerprint: view.fingerprint }),
      }),
    ]);
    expect((await getSshKeyForNotification(env.app, DAVE.id, view.authorizationId))?.status).toBe('expired');
    expect((await getSshKeyForNotification(env.app, DAVE.id, view.authorizationId))?.expiredEventAt).toBe(now().toISOString());

    const revoked = await addOk('dave@contoso.com', newKey.ed25519(), { validTo: new Date(now().getTime() + 3_600_000).toISOString() });
    await asDave.delete(`${KEYS}&authorizationId=${revoked.view.authorizationId}`);
    env.clock.advance(2 * 3_600_000);
    expect(await expireSshKeyIfDue(env.app, DAVE.id, revoked.view.authorizationId, now())).toBe('gone');
    expect(await expireSshKeyIfDue(env.app, DAVE.id, randomUUID(), now())).toBe('gone');
    expect(await getSshKeyForNotification(env.app, DAVE.id, randomUUID())).toBeUndefined();

    await asDave.delete(`${KEYS}&authorizationId=${view.authorizationId}&remove=true`);
    expect(await expireSshKeyIfDue(env.app, DAVE.id, view.authorizationId, now())).toBe('gone');
    expect((await tableRows(TABLES.sshExpiry)).some((candidate) => String(candidate.rowKey).endsWith(view.authorizationId))).toBe(false);
    expect(sshKeyRowKey(view.authorizationId)).toBe(`ssh_${view.authorizationId}`);
  });
});

describe('OpenAPI and secrets', () => {
  it('documents the SSH key routes', async () => {
    const response = await api.get('/openapi.json');
    const document = response.body as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(document.paths['/{organization}/_apis/tokens/sshkeys'] ?? {}).sort()).toEqual(['delete', 'get', 'post', 'put']);
    expect(Object.keys(document.paths['/_apis/tokens/sshkeys/lookup'] ?? {})).toEqual(['post']);
  });

  it('never stores, queues or logs a pasted private key', async () => {
    expect(privateSecrets.length).toBeGreaterThan(10);
    const haystacks: string[] = [...drainedTexts];
    for await (const table of env.app.storage.tableService.listTables()) {
      for await (const entity of env.app.storage.table(table.name!).listEntities()) haystacks.push(JSON.stringify(entity));
    }
    for await (const queue of env.app.storage.queueService.listQueues()) {
      const { peekedMessageItems } = await env.app.storage.queue(queue.name).peekMessages({ numberOfMessages: 32 });
      for (const message of peekedMessageItems) haystacks.push(message.messageText, Buffer.from(message.messageText, 'base64').toString('utf8'));
    }
    haystacks.push(...env.logs);
    const all = haystacks.join('\n');
    expect(all).toContain('SshCreateEvent');
    for (const secret of privateSecrets) expect(all.includes(secret), secret).toBe(false);
    expect(all).not.toMatch(/PRIVATE KEY/);
  });
});
