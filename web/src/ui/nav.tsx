import { useLocation } from 'preact-iso';
import { useSession } from '../session';

interface Item {
  href: string;
  label: string;
}

function Section({ title, items }: { title: string; items: Item[] }) {
  const { path } = useLocation();
  if (items.length === 0) return null;
  return (
    <div class="nav-section">
      <h2 class="nav-title">{title}</h2>
      <ul>
        {items.map((item) => (
          <li key={item.href}>
            <a href={item.href} aria-current={path === item.href ? 'page' : undefined}>
              {item.label}
            </a>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** What a person may not do is not shown: organization settings need the capabilities the API grants. */
export function Nav({ operator }: { operator: boolean }) {
  const { organization, organizations, capabilities } = useSession();
  const base = organization ? `/${encodeURIComponent(organization)}` : undefined;
  const user: Item[] = base
    ? [
        { href: `${base}/_usersSettings/tokens`, label: 'Personal access tokens' },
        { href: `${base}/_usersSettings/keys`, label: 'SSH public keys' },
        { href: `${base}/_usersSettings/notifications`, label: 'Notifications' },
      ]
    : [];
  const admin = capabilities?.administrator === true;
  const organizationItems: Item[] = base
    ? [
        ...(admin ? [{ href: `${base}/_settings/organizationOverview`, label: 'Overview' }] : []),
        ...(admin ? [{ href: `${base}/_settings/users`, label: 'Users' }] : []),
        ...(admin ? [{ href: `${base}/_settings/projects`, label: 'Projects' }] : []),
        ...(admin ? [{ href: `${base}/_settings/organizationPolicy`, label: 'Policies' }] : []),
        ...(admin ? [{ href: `${base}/_settings/tokens`, label: 'Token administration' }] : []),
        ...(capabilities?.auditReader ? [{ href: `${base}/_settings/audit`, label: 'Auditing' }] : []),
        ...(admin ? [{ href: `${base}/_settings/auditSettings`, label: 'Audit readers and retention' }] : []),
      ]
    : [];
  return (
    <nav class="side-nav" aria-label="Settings">
      {organizations.length > 1 && (
        <Section title="Organizations" items={organizations.map((name) => ({ href: `/${encodeURIComponent(name)}/_usersSettings/tokens`, label: name }))} />
      )}
      <Section title="User settings" items={user} />
      <Section title="Organization settings" items={organizationItems} />
      <Section title="Service" items={operator ? [{ href: '/_portal/grants', label: 'Free grant reviews' }] : []} />
    </nav>
  );
}
