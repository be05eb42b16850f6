import { DEMO_ORGANIZATIONS, DEMO_USERS } from '../../local/demo-data.js';

/** The seeded organizations and people, by the names tests use. */
export const CONTOSO = DEMO_ORGANIZATIONS[0].id;
export const FABRIKAM = DEMO_ORGANIZATIONS[1].id;
export const demoUser = (email: string) => {
  const found = DEMO_USERS.find((candidate) => candidate.email === email);
  if (!found) throw new Error(`no seeded user ${email}`);
  return found;
};
export const ALICE = demoUser('alice@contoso.com');
export const BOB = demoUser('bob@contoso.com');
export const CAROL = demoUser('carol@contoso.com');
export const DAVE = demoUser('dave@contoso.com');
export const ERIN = demoUser('erin@fabrikam.com');
