import { useEffect, useState } from 'preact/hooks';
import { api, ok } from '../api';
import type { operations } from '../api/schema';
import { Alert, Dialog, Page, useAction } from '../ui/kit';

type Member = operations['members-list']['responses'][200]['content']['application/json']['members'][number];
type Group = Member['groups'][number];
const GROUPS: Record<Group, string> = { projectCollectionAdministrators: 'Project Collection Administrators', projectScopedUsers: 'Project-Scoped Users' };
const VERSION = '7.1' as const;

export function MembersPage({ organization }: { organization: string }) {
  const path = { organization };
  const [members, setMembers] = useState<Member[]>();
  const [adding, setAdding] = useState(false);
  const [busy, error, run] = useAction();
  const load = () =>
    run(async () => {
      setMembers(ok(await api.GET('/{organization}/_apis/userentitlements', { params: { path, query: { 'api-version': VERSION } } })).members);
    });
  useEffect(() => {
    void load();
  }, [organization]);
  return (
    <Page
      title="Users"
      description="The members of this organization, their groups and project roles."
      actions={
        <button type="button" class="button button-primary" onClick={() => setAdding(true)}>
          Add user
        </button>
      }
    >
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
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {members.map((member) => (
                <tr key={member.id}>
                  <th scope="row">{member.user.displayName}</th>
                  <td>{member.user.principalName}</td>
                  <td>{member.groups.map((group) => GROUPS[group]).join(', ') || 'Members'}</td>
                  <td>{member.projectEntitlements.map((entitlement) => `${entitlement.projectRef.name} (${entitlement.group.groupType.replace('project', '')})`).join(', ') || '—'}</td>
                  <td class="actions">
                    <button
                      type="button"
                      class="button button-small button-danger"
                      disabled={busy}
                      aria-label={`Remove ${member.user.displayName}`}
                      onClick={() =>
                        void run(async () => {
                          ok(await api.DELETE('/{organization}/_apis/userentitlements/{userId}', { params: { path: { organization, userId: member.id }, query: { 'api-version': VERSION } } }));
                          await load();
                        })
                      }
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Dialog title="Add a user" open={adding} onClose={() => setAdding(false)}>
        <AddMemberForm
          organization={organization}
          onAdded={() => {
            setAdding(false);
            void load();
          }}
        />
      </Dialog>
    </Page>
  );
}

function AddMemberForm({ organization, onAdded }: { organization: string; onAdded: () => void }) {
  const [email, setEmail] = useState('');
  const [group, setGroup] = useState<'' | Group>('');
  const [busy, error, run] = useAction();
  return (
    <form
      class="stack"
      onSubmit={(event) => {
        event.preventDefault();
        void run(async () => {
          ok(
            await api.POST('/{organization}/_apis/userentitlements', {
              params: { path: { organization }, query: { 'api-version': VERSION } },
              body: { user: { principalName: email.trim() }, groups: group ? [group] : [] },
            }),
          );
          onAdded();
        });
      }}
    >
      <div class="field">
        <label for="member-email">Email</label>
        <input id="member-email" class="input" type="email" required value={email} onInput={(event) => setEmail(event.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="member-group">Group</label>
        <select id="member-group" class="input" value={group} onChange={(event) => setGroup(event.currentTarget.value as '' | Group)}>
          <option value="">Members</option>
          <option value="projectScopedUsers">{GROUPS.projectScopedUsers}</option>
          <option value="projectCollectionAdministrators">{GROUPS.projectCollectionAdministrators}</option>
        </select>
      </div>
      <Alert error={error} />
      <div class="form-actions">
        <button type="submit" class="button button-primary" disabled={busy}>
          Add
        </button>
      </div>
    </form>
  );
}
