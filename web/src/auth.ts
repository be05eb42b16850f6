// Sign-in. In Azure: Microsoft Entra ID through MSAL (authorization code + PKCE, tokens in session
// storage only). Locally: the development sign-in of the local runtime. Nothing is kept in
// localStorage or cookies; closing the tab signs out.

export type SignInSettings = { kind: 'development' } | { kind: 'entra'; clientId: string; authority: string; scopes: string[] } | { kind: 'unavailable' };

export interface Account {
  email: string;
  displayName: string;
  roles: string[];
}

interface DevelopmentSession {
  accessToken: string;
  expiresOn: string;
  account: { email: string; displayName: string };
}

const DEV_SESSION_KEY = 'gatehouse.dev-session';

let settings: SignInSettings = { kind: 'unavailable' };
// MSAL is loaded only when Entra ID is configured, so the development portal never downloads it.
let msal: import('@azure/msal-browser').PublicClientApplication | undefined;

export async function initializeAuth(): Promise<SignInSettings> {
  const response = await fetch('/_portal/config.json', { headers: { Accept: 'application/json' } });
  settings = ((await response.json()) as { signIn: SignInSettings }).signIn;
  if (settings.kind === 'entra') {
    const { PublicClientApplication } = await import('@azure/msal-browser');
    msal = new PublicClientApplication({
      auth: { clientId: settings.clientId, authority: settings.authority, redirectUri: `${location.origin}/_portal/` },
      cache: { cacheLocation: 'sessionStorage' },
    });
    await msal.initialize();
    const result = await msal.handleRedirectPromise();
    if (result?.account) msal.setActiveAccount(result.account);
    else if (!msal.getActiveAccount()) msal.setActiveAccount(msal.getAllAccounts()[0] ?? null);
  }
  return settings;
}

function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split('.')[1] ?? '';
  try {
    return JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function developmentSession(): DevelopmentSession | undefined {
  const stored = sessionStorage.getItem(DEV_SESSION_KEY);
  if (!stored) return undefined;
  const session = JSON.parse(stored) as DevelopmentSession;
  if (Date.parse(session.expiresOn) - 60_000 < Date.now()) {
    sessionStorage.removeItem(DEV_SESSION_KEY);
    return undefined;
  }
  return session;
}

/** The signed-in person, or undefined. */
export async function currentAccount(): Promise<Account | undefined> {
  if (settings.kind === 'development') {
    const session = developmentSession();
    if (!session) return undefined;
    const roles = claimsOf(session.accessToken).roles;
    return { ...session.account, roles: Array.isArray(roles) ? roles.map(String) : [] };
  }
  if (settings.kind === 'entra' && msal) {
    const account = msal.getActiveAccount();
    if (!account) return undefined;
    const token = await accessToken();
    const roles = token ? claimsOf(token).roles : undefined;
    return { email: account.username, displayName: account.name ?? account.username, roles: Array.isArray(roles) ? roles.map(String) : [] };
  }
  return undefined;
}

/** A current access token for the API, renewed silently by MSAL when needed. */
export async function accessToken(): Promise<string | undefined> {
  if (settings.kind === 'development') return developmentSession()?.accessToken;
  if (settings.kind !== 'entra' || !msal) return undefined;
  const account = msal.getActiveAccount();
  if (!account) return undefined;
  try {
    return (await msal.acquireTokenSilent({ account, scopes: settings.scopes })).accessToken;
  } catch {
    await msal.acquireTokenRedirect({ account, scopes: settings.scopes });
    return undefined;
  }
}

export async function signInWithEntra(): Promise<void> {
  if (settings.kind === 'entra' && msal) await msal.loginRedirect({ scopes: settings.scopes });
}

export interface DemoIdentities {
  identities: { email: string; displayName: string; organization: string }[];
  roles: string[];
}

export async function demoIdentities(): Promise<DemoIdentities> {
  const response = await fetch('/_portal/dev/identities');
  if (!response.ok) throw new Error('The development sign-in is not available.');
  return (await response.json()) as DemoIdentities;
}

export async function signInAsDemo(email: string, roles: string[]): Promise<void> {
  const response = await fetch('/_portal/dev/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, roles }),
  });
  if (!response.ok) throw new Error('The development sign-in refused this identity.');
  sessionStorage.setItem(DEV_SESSION_KEY, JSON.stringify((await response.json()) as DevelopmentSession));
}

export async function signOut(): Promise<void> {
  sessionStorage.removeItem(DEV_SESSION_KEY);
  if (settings.kind === 'entra' && msal) await msal.logoutRedirect({ postLogoutRedirectUri: `${location.origin}/_portal/` });
}
