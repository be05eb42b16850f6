import { useEffect, useState } from 'preact/hooks';
import { api, ok } from '../api';
import type { operations } from '../api/schema';
import { Alert, Page } from '../ui/kit';

type Member = operations['members-list']['responses'][200]['content']['application/json']['members'][number];
const GROUPS: Record<string, string> = { projectCollectionAdministrators: 'Project Collection Administrators', projectScopedUsers: 'Project-Scoped Users' };

export function MembersPage({ organization }: { organization: string }) {
  const [members, setMembers] = useState<Member[]>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    api
      .GET('/{organization}/_apis/userentitlements', { params: { path: { organization }, query: { 'api-version': '7.1' } } })
      .then((outcome) => setMembers(ok(outcome).members))
      .catch(setError);
  }, [organization]);
  return (
    <Page title="Users" description="The members of this organization, their groups and project roles.">
      <Alert error={error} />
      {!members && !error && <p role="status">Loading…</p>}
      {members && (
        <div class="table-wrap">
          <table class="table">
            <caption class="visually-hidden">Members</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Groups</th>
                <th scope="col">Projects</th>
              </tr>
            </thead>
            <tbody>
              {members.map((member) => (
                <tr key={member.id}>
                  <th scope="row">{member.user.displayName}</th>
                  <td>{member.user.principalName}</td>
                  <td>{member.groups.map((group) => GROUPS[group] ?? group).join(', ') || 'Members'}</td>
                  <td>{member.projectEntitlements.map((entitlement) => `${entitlement.projectRef.name} (${entitlement.group.groupType.replace('project', '')})`).join(', ') || '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}
