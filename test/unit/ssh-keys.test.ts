import { createHash, generateKeyPairSync } from 'node:crypto';
import sshpk from 'sshpk';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../shared/http/errors.js';
import { WireReader, fingerprintHexOf, looksLikePrivateKey, parsePublicKey, wireString } from '../../shared/sshkeys/keys.js';

/** Keys and fingerprints printed by OpenSSH's ssh-keygen (-l -E sha256); the sk-* lines were encoded by hand and read back by ssh-keygen. */
const FIXTURES = [
  {
    line: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJwebyNVofAP6YAAHicDYUaQw733QTN/3cb6dmuFwpR1 fixture@gatehouse',
    fingerprint: 'SHA256:OVnyRPuIRkzhyYy1x0DClTn+HQsSVBfCWHCVIQRedtQ',
    keyType: 'ssh-ed25519',
    keySize: 256,
  },
  {
    line: 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQCmMB/CkKXibHnrJ1KH2d28bR+OdyBQw4R5KRLTpjydyEcqC61cHGWE0vCgmLV63jCOdsqL2Ci2FUK2og+pXGMvxNFP7KUFruAYdWnF41hxBKVSK1eMH4TgYRnz8qTd/GNwpRrWpDVxKcn0afvbSBZ1Fqm4VsaWuKp44pZTzfewymQyF4488bBPbOSswCZXWeWqSvRhPvgS9zD7mUdPyExwjLx3Tfd0wtltMbBejLFyyPQqAvVHBwPtJ8ZLrtV4HSS62n7VgIFV8nci4nt+WhIKmA/SXMIOflo9zDSdbYVEOhkGw5sMOJ+CU2ParNo27ni46PoToAIm/5lbj+uwAUBz1fHDL5Ys7psFX3WuxKiSOREG0rOE09jTVJCmTQohnW/3FTUsxwUfcbnskubfWRTpRCcQ2iVwRK20ks8w/wntEan9cUA/OtrSrZe/SOc5vf/kLBOap5N9wA5SD21w0YMoeJXyGNW/EcHAtsyNft6VHP5Ckp0uJEbyEfBiq5+PxVk= rsa@fixture',
    fingerprint: 'SHA256:CN92vBFg+2P8S5CWopv/fSjDx+SJgm1nLXTB2Gp/ImI',
    keyType: 'ssh-rsa',
    keySize: 3072,
  },
  {
    line: 'sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIOeTuLsXZOoYgXCmC4kr4dU7M2noaTCdwYrQx6Vfya/mAAAABHNzaDo= sk-ed@fixture',
    fingerprint: 'SHA256:AjvtRaW+mhZsivXK1SPgC9ACNgMI08H8qklW5fprpPM',
    keyType: 'sk-ssh-ed25519@openssh.com',
    keySize: 256,
  },
  {
    line: 'sk-ecdsa-sha2-nistp256@openssh.com AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAIbmlzdHAyNTYAAABBBGO/mW/KWUkxUaUAaMFEBW/V99sQmScNINUh/0lHbkR8q9Rd6DGptFkDdv6k3z0A8rQoxMufzMPSsPPh2XMhOvwAAAAEc3NoOg== sk-ec@fixture',
    fingerprint: 'SHA256:+UB9KuT+JrDt33+u/nePrF/jGrgucTCK9Dr+uiCJIdg',
    keyType: 'sk-ecdsa-sha2-nistp256@openssh.com',
    keySize: 256,
  },
] as const;

/** An OpenSSH user certificate made with `ssh-keygen -s ca -I fixture -n alice` for the Ed25519 fixture. */
const CERTIFICATE = `ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIMWZY8XFCP5aXxuUU9TNUq0Sk2Pj1+L+7tdMhAXJYRpRAAAAIJwebyNVofAP6YAAHicDYUaQw733QTN/3cb6dmuFwpR1AAAAAAAAAAAAAAABAAAAB2ZpeHR1cmUAAAAJAAAABWFsaWNlAAAAAAAAAAD//////////wAAAAAAAACCAAAAFXBlcm1pdC1YMTEtZm9yd2FyZGluZwAAAAAAAAAXcGVybWl0LWFnZW50LWZvcndhcmRpbmcAAAAAAAAAFnBlcm1pdC1wb3J0LWZvcndhcmRpbmcAAAAAAAAACnBlcm1pdC1wdHkAAAAAAAAADnBlcm1pdC11c2VyLXJjAAAAAAAAAAAAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIC5cuBLRlr+GBGNk+YqO/7HIJPsaduwgwkmkn6zm8FAoAAAAUwAAAAtzc2gtZWQyNTUxOQAAAEC9QVdvB2iGR4Hr86Eq3FJRB+/FzvmRAWK+mwNjEwooLsifISf4JdnImNQTjDCnKXZ4F9TDfxV4KMTg80IVkvkH fixture@gatehouse`;

async function codeOf(action: () => unknown): Promise<string | undefined> {
  try {
    await action();
    return undefined;
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
}

const base64Of = (line: string) => line.split(' ')[1] as string;

describe('parsePublicKey', () => {
  it.each(FIXTURES)('agrees with ssh-keygen on $keyType', async (fixture) => {
    const parsed = await parsePublicKey(fixture.line);
    expect(parsed).toMatchObject({ keyType: fixture.keyType, keySize: fixture.keySize, fingerprint: fixture.fingerprint, publicData: fixture.line });
    expect(parsed.fingerprintHex).toBe(fingerprintHexOf(fixture.fingerprint));
  });

  it('reads whitespace variants, options, wrapped base64 and the bare base64 part', async () => {
    const [ed, rsa] = FIXTURES;
    const rsaBase64 = base64Of(rsa.line);
    const variants: [string, string][] = [
      [`  ${ed.line}  \n`, ed.line],
      [`\uFEFF${ed.line}\r\n`, ed.line],
      [ed.line.replace(/ /g, '\t'), ed.line],
      [`ssh-ed25519    ${base64Of(ed.line)}    fixture@gatehouse`, ed.line],
      [`no-pty,no-agent-forwarding,from="10.0.0.0/8" ${ed.line}`, ed.line],
      [`command="echo hi there" ${ed.line}`, ed.line],
      [`# my laptop\n${ed.line}\n`, ed.line],
      [base64Of(ed.line), `ssh-ed25519 ${base64Of(ed.line)}`],
      [`ssh-rsa ${rsaBase64.match(/.{1,64}/g)!.join('\n')} rsa@fixture`, rsa.line],
      [`ssh-rsa\n${rsaBase64.match(/.{1,70}/g)!.join('\r\n')}\nrsa@fixture`, rsa.line],
      [`ssh-rsa ${rsaBase64.match(/.{1,64}/g)!.join('\n')}\nQUJD`, `ssh-rsa ${rsaBase64} QUJD`],
      [`ssh-ed25519 ${base64Of(ed.line)} two words comment`, `ssh-ed25519 ${base64Of(ed.line)} two words comment`],
    ];
    for (const [input, publicData] of variants) {
      const parsed = await parsePublicKey(input);
      expect(parsed.publicData, JSON.stringify(input)).toBe(publicData);
    }
  });

  it('reads RFC 4716 and PEM public keys through sshpk', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const key = sshpk.parseKey(pem, 'pem');
    const blob = key.toBuffer('rfc4253');
    const rfc4716 = `---- BEGIN SSH2 PUBLIC KEY ----\nComment: "laptop"\n${blob
      .toString('base64')
      .match(/.{1,70}/g)!
      .join('\n')}\n---- END SSH2 PUBLIC KEY ----\n`;
    for (const text of [pem, rfc4716]) {
      const parsed = await parsePublicKey(text);
      expect(parsed.keyType).toBe('ecdsa-sha2-nistp384');
      expect(parsed.fingerprint).toBe(key.fingerprint('sha256').toString());
    }
  });

  it('refuses everything else with a specific code', async () => {
    const [ed, rsa, skEd, skEc] = FIXTURES;
    const edBlob = Buffer.from(base64Of(ed.line), 'base64');
    const skEdBlob = Buffer.from(base64Of(skEd.line), 'base64');
    const skEcBlob = Buffer.from(base64Of(skEc.line), 'base64');
    const dsa = sshpk.parseKey(
      generateKeyPairSync('dsa', { modulusLength: 1024, divisorLength: 160 }).publicKey.export({ type: 'spki', format: 'pem' }),
      'pem',
    );
    const rsa1024 = sshpk.parseKey(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }), 'pem');
    const ecBlob = sshpk
      .parseKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }), 'pem')
      .toBuffer('rfc4253');
    const offCurve = Buffer.from(ecBlob);
    offCurve[offCurve.length - 3]! ^= 0x5a;
    const nistp192 = Buffer.concat([wireString('ecdsa-sha2-nistp192'), wireString('nistp192'), wireString(Buffer.alloc(49, 4))]);
    const cases: [string, string][] = [
      ['', 'publicDataRequired'],
      ['   \n\t ', 'publicDataRequired'],
      [`ssh-dss ${dsa.toBuffer('rfc4253').toString('base64')} old`, 'dsaKeyNotAllowed'],
      [`ssh-rsa ${rsa1024.toBuffer('rfc4253').toString('base64')} short`, 'rsaKeyTooShort'],
      [CERTIFICATE, 'sshCertificateNotAllowed'],
      [`ssh-ed25519 ${base64Of(ed.line).slice(0, 40)}`, 'invalidPublicKey'],
      [`ssh-ed25519 ${base64Of(ed.line).slice(0, -8)}`, 'invalidPublicKey'],
      [`ssh-rsa ${base64Of(ed.line)}`, 'invalidPublicKey'],
      [`ssh-ed25519 ${Buffer.concat([edBlob, wireString('x')]).toString('base64')}`, 'invalidPublicKey'],
      [`ecdsa-sha2-nistp256 ${offCurve.toString('base64')}`, 'invalidPublicKey'],
      [`ecdsa-sha2-nistp192 ${nistp192.toString('base64')}`, 'unsupportedKeyType'],
      [`ssh-foo ${Buffer.concat([wireString('ssh-foo'), wireString('x')]).toString('base64')}`, 'unsupportedKeyType'],
      [`ssh-ed25519 not*base64`, 'invalidPublicKey'],
      ['ssh-ed25519', 'invalidPublicKey'],
      ['hello world', 'invalidPublicKey'],
      ['{"kty":"OKP"}', 'invalidPublicKey'],
      [`${ed.line}\n${rsa.line}`, 'multiplePublicKeys'],
      [`${ed.line} ${'x'.repeat(2000)}`, 'invalidPublicKey'],
      [`${ed.line} bad\u0007comment`, 'invalidPublicKey'],
      ['A'.repeat(20_000), 'invalidPublicKey'],
      [`sk-ssh-ed25519@openssh.com ${Buffer.concat([skEdBlob, Buffer.from([0])]).toString('base64')}`, 'invalidPublicKey'],
      [
        `sk-ssh-ed25519@openssh.com ${Buffer.concat([wireString('sk-ssh-ed25519@openssh.com'), wireString(Buffer.alloc(31)), wireString('ssh:')]).toString('base64')}`,
        'invalidPublicKey',
      ],
      [
        `sk-ssh-ed25519@openssh.com ${Buffer.concat([wireString('sk-ssh-ed25519@openssh.com'), wireString(Buffer.alloc(32, 1)), wireString('')]).toString('base64')}`,
        'invalidPublicKey',
      ],
      [`sk-ecdsa-sha2-nistp256@openssh.com ${skEcBlob.subarray(0, skEcBlob.length - 6).toString('base64')}`, 'invalidPublicKey'],
    ];
    for (const [input, code] of cases) expect(await codeOf(() => parsePublicKey(input)), JSON.stringify(input.slice(0, 80))).toBe(code);
  });

  it('recognises private keys in every common form and never echoes them', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const { privateKey: rsaPrivate } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { privateKey: ecPrivate } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const openssh = sshpk.parsePrivateKey(pkcs8, 'pem').toString('openssh');
    const pkcs1 = rsaPrivate.export({ type: 'pkcs1', format: 'pem' }) as string;
    const sec1 = ecPrivate.export({ type: 'sec1', format: 'pem' }) as string;
    const bareDer = (rsaPrivate.export({ type: 'pkcs8', format: 'der' }) as Buffer).toString('base64');
    const jwk = JSON.stringify(ecPrivate.export({ format: 'jwk' }));
    const opensshBody = openssh.split('\n').slice(1, -2).join('');
    for (const text of [pkcs8, openssh, pkcs1, sec1, bareDer, jwk, opensshBody, `  ${openssh}\n${FIXTURES[0].line}`]) {
      expect(looksLikePrivateKey(text)).toBe(true);
      let message = '';
      try {
        await parsePublicKey(text);
      } catch (error) {
        expect((error as AppError).code).toBe('privateKeyNotAllowed');
        message = (error as AppError).message;
      }
      expect(message).not.toBe('');
      expect(message).not.toContain(text.slice(40, 60));
    }
    for (const fixture of FIXTURES) expect(looksLikePrivateKey(fixture.line)).toBe(false);
  });
});

describe('wire format and fingerprints', () => {
  it('reads length-prefixed strings and refuses reads past the end', async () => {
    const buffer = Buffer.concat([wireString('abc'), wireString(Buffer.alloc(0))]);
    const reader = new WireReader(buffer);
    expect(reader.readString().toString()).toBe('abc');
    expect(reader.readString().length).toBe(0);
    expect(reader.atEnd).toBe(true);
    expect(await codeOf(() => reader.readString())).toBe('invalidPublicKey');
    expect(await codeOf(() => new WireReader(Buffer.from([0, 0, 0, 9, 1])).readString())).toBe('invalidPublicKey');
    expect(await codeOf(() => new WireReader(Buffer.from([0, 0, 1])).readString())).toBe('invalidPublicKey');
    expect(await codeOf(() => new WireReader(Buffer.concat([wireString('x'.repeat(100))])).readString(10))).toBe('invalidPublicKey');
  });

  it('normalises lookup fingerprints', () => {
    const digest = createHash('sha256').update('x').digest();
    const printed = `SHA256:${digest.toString('base64').replace(/=+$/, '')}`;
    expect(fingerprintHexOf(printed)).toBe(digest.toString('hex'));
    expect(fingerprintHexOf(`${printed}=`)).toBe(digest.toString('hex'));
    expect(fingerprintHexOf(` ${printed} `)).toBe(digest.toString('hex'));
    for (const bad of ['', 'SHA256:', `MD5:${printed.slice(7)}`, printed.slice(0, -1), `${printed}AA`, 'SHA256:!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!']) {
      expect(fingerprintHexOf(bad)).toBeUndefined();
    }
  });
});
