/**
 * The SSH public key types Gatehouse accepts (the `keyType` of a stored key, as in the OpenSSH key
 * line). DSA (`ssh-dss`), RSA below 2048 bits and certificates are refused whatever the policy says.
 */
export const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
] as const;
export type SshKeyType = (typeof SSH_KEY_TYPES)[number];

export const isSshKeyType = (value: string): value is SshKeyType => (SSH_KEY_TYPES as readonly string[]).includes(value);

/** The smallest RSA modulus accepted at all; the organization policy may only raise it. */
export const MIN_RSA_BITS = 2048;
/** The largest RSA modulus accepted (bigger keys only cost verification time). */
export const MAX_RSA_BITS = 16384;
