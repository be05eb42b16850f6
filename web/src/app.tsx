import { useEffect, useState } from 'preact/hooks';
import { ErrorBoundary, LocationProvider, Route, Router, lazy, useLocation } from 'preact-iso';
import { allowed, api, ok } from './api';
import { currentAccount, signOut, type Account, type SignInSettings } from './auth';
import { SessionContext, OPERATOR_ROLE, type Capabilities, type Session } from './session';
import { SignInPage } from './pages/signin';
import { Nav } from './ui/nav';

const TokensPage = lazy(() => import('./pages/tokens').then((m) => m.TokensPage));
const KeysPage = lazy(() => import('./pages/keys').then((m) => m.KeysPage));
const NotificationsPage = lazy(() => import('./pages/notifications').then((m) => m.NotificationsPage));
const PoliciesPage = lazy(() => import('./pages/policies').then((m) => m.PoliciesPage));
const TokenAdminPage = lazy(() => import('./pages/token-admin').then((m) => m.TokenAdminPage));
const AuditPage = lazy(() => import('./pages/audit').then((m) => m.AuditPage));
const AuditSettingsPage = lazy(() => import('./pages/audit-settings').then((m) => m.AuditSettingsPage));
const MembersPage = lazy(() => import('./pages/members').then((m) => m.MembersPage));
const ProjectsPage = lazy(() => import('./pages/projects').then((m) => m.ProjectsPage));
const OrganizationPage = lazy(() => import('./pages/organization').then((m) => m.OrganizationPage));
const GrantsPage = lazy(() => import('./pages/grants').then((m) => m.GrantsPage));

/** The organization in the path (`/{organization}/_usersSettings/...`), if any. */
function organizationOf(path: string): string | undefined {
  const [first, second] = path.split('/').filter(Boolean);
  return first && second && (second === '_usersSettings' || second === '_settings') ? decodeURIComponent(first) : undefined;
}

async function capabilitiesIn(organization: string): Promise<Capabilities> {
  const path = { organization };
  const administrator = await allowed(() => api.GET('/{organization}/_apis/tokens/policies', { params: { path, query: { 'api-version': '7.1' } } }));
  const auditReader =
    administrator ||
    (await allowed(() => api.GET('/{organization}/_apis/audit/auditlog', { params: { path, query: { 'api-version': '7.1-preview.1', batchSize: '1' } } })));
  return { administrator, auditReader };
}

function Shell({ account }: { account: Account }) {
  const { path, route } = useLocation();
  const [organizations, setOrganizations] = useState<string[] | undefined>();
  const [capabilities, setCapabilities] = useState<{ organization: string; value: Capabilities }>();
  const organization = organizationOf(path);

  useEffect(() => {
    api
      .GET('/_apis/organizations', { params: { query: { 'api-version': '7.1' } } })
      .then((outcome) => setOrganizations(ok(outcome).value.map((item) => item.name)))
      .catch(() => setOrganizations([]));
  }, []);
  useEffect(() => {
    if (!organization || capabilities?.organization === organization) return;
    void capabilitiesIn(organization).then((value) => setCapabilities({ organization, value }));
  }, [organization]);
  useEffect(() => {
    const only = organizations?.length === 1 ? organizations[0] : undefined;
    // The address now, not the render's: effects run after paint, and a link followed in between (right
    // after signing in) must not be replaced by the landing page.
    const here = location.pathname;
    if ((here === '/_portal/' || here === '/_portal') && only !== undefined) route(`/${encodeURIComponent(only)}/_usersSettings/tokens`, true);
  }, [path, organizations]);

  const session: Session = {
    account,
    organization,
    organizations: organizations ?? [],
    capabilities: capabilities?.organization === organization ? capabilities?.value : undefined,
  };
  const operator = account.roles.includes(OPERATOR_ROLE);
  return (
    <SessionContext.Provider value={session}>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top-bar">
        <a class="brand" href={organization ? `/${encodeURIComponent(organization)}/_usersSettings/tokens` : '/_portal/'}>
          Gatehouse
        </a>
        {organization && <span class="top-org">{organization}</span>}
        <span class="top-user">{account.displayName}</span>
        <button type="button" class="link-button" onClick={() => void signOut().then(() => location.assign('/_portal/'))}>
          Sign out
        </button>
      </header>
      <div class="layout">
        <Nav operator={operator} />
        <main id="main" class="content" tabIndex={-1}>
          <ErrorBoundary>
            <Router>
              <Route path="/:organization/_usersSettings/tokens" component={TokensPage} />
              <Route path="/:organization/_usersSettings/keys" component={KeysPage} />
              <Route path="/:organization/_usersSettings/notifications" component={NotificationsPage} />
              <Route path="/:organization/_settings/organizationPolicy" component={PoliciesPage} />
              <Route path="/:organization/_settings/tokens" component={TokenAdminPage} />
              <Route path="/:organization/_settings/audit" component={AuditPage} />
              <Route path="/:organization/_settings/auditSettings" component={AuditSettingsPage} />
              <Route path="/:organization/_settings/users" component={MembersPage} />
              <Route path="/:organization/_settings/projects" component={ProjectsPage} />
              <Route path="/:organization/_settings/organizationOverview" component={OrganizationPage} />
              <Route path="/_portal/grants" component={operator ? GrantsPage : NotFound} />
              <Route path="/_portal/" component={Home} />
              <Route path="/_portal" component={Home} />
              <Route default component={NotFound} />
            </Router>
          </ErrorBoundary>
        </main>
      </div>
    </SessionContext.Provider>
  );
}

function Home() {
  return (
    <section aria-labelledby="home-title">
      <h1 id="home-title">Your organizations</h1>
      <OrganizationList />
    </section>
  );
}

function OrganizationList() {
  const [organizations, setOrganizations] = useState<string[]>();
  useEffect(() => {
    api
      .GET('/_apis/organizations', { params: { query: { 'api-version': '7.1' } } })
      .then((outcome) => setOrganizations(ok(outcome).value.map((item) => item.name)))
      .catch(() => setOrganizations([]));
  }, []);
  if (!organizations) return <p role="status">Loading…</p>;
  if (organizations.length === 0) return <p>You are not a member of any organization yet.</p>;
  return (
    <ul class="plain-list">
      {organizations.map((name) => (
        <li key={name}>
          <a href={`/${encodeURIComponent(name)}/_usersSettings/tokens`}>{name}</a>
        </li>
      ))}
    </ul>
  );
}

function NotFound() {
  return (
    <section aria-labelledby="not-found-title">
      <h1 id="not-found-title">Page not found</h1>
      <p>
        This page does not exist or you do not have access to it. <a href="/_portal/">Go to your organizations</a>.
      </p>
    </section>
  );
}

export function App({ signIn }: { signIn: SignInSettings }) {
  const [account, setAccount] = useState<Account | null | undefined>(undefined);
  useEffect(() => {
    void currentAccount().then((value) => setAccount(value ?? null));
  }, []);
  if (account === undefined) return <p role="status">Loading…</p>;
  if (account === null) return <SignInPage settings={signIn} onSignedIn={() => void currentAccount().then((value) => setAccount(value ?? null))} />;
  return (
    <LocationProvider>
      <Shell account={account} />
    </LocationProvider>
  );
}
