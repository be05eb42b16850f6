import { useState } from 'preact/hooks';
import { api, ok } from '../api';
import type { operations } from '../api/schema';
import { Alert, Dialog, Page, useAction, Table, useLoad, ActionForm, TextField, SelectField } from '../ui/kit';

type Member = operations['members-list']['responses'][200]['content']['application/json']['members'][number];
type Group = Member['groups'][number];
const GROUPS: Record<Group, string> = { projectCollectionAdministrators: 'Project Collection Administrators', projectScopedUsers: 'Project-Scoped Users' };
const VERSION = '7.1' as const;

export function MembersPage({ organization }: { organization: string }) {
  const path = { organization };
  const [adding, setAdding] = useState(false);
  const [busy, actionError, run] = useAction();
  const {
    value: members,
    error: loadError,
    reload: load,
  } = useLoad(
    async () => ok(await api.GET('/{organization}/_apis/userentitlements', { params: { path, query: { 'api-version': VERSION } } })).members,
    [organization],
  );
  const error = loadError ?? actionError;
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
        <Table caption="Members" columns={['Name', 'Email', 'Groups', 'Projects']} actions>
          {members.map((member) => (
            <tr key={member.id}>
              <th scope="row">{member.user.displayName}</th>
              <td>{member.user.principalName}</td>
              <td>{member.groups.map((group) => GROUPS[group]).join(', ') || 'Members'}</td>
              <td>
                {member.projectEntitlements
                  .map((entitlement) => `${entitlement.projectRef.name} (${entitlement.group.groupType.replace('project', '')})`)
                  .join(', ') || '—'}
              </td>
              <td class="actions">
                <button
                  type="button"
                  class="button button-small button-danger"
                  disabled={busy}
                  aria-label={`Remove ${member.user.displayName}`}
                  onClick={() =>
                    void run(async () => {
                      ok(
                        await api.DELETE('/{organization}/_apis/userentitlements/{userId}', {
                          params: { path: { organization, userId: member.id }, query: { 'api-version': VERSION } },
                        }),
                      );
                      await load();
                    })
                  }
                >
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </Table>
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
  return (
    <ActionForm
      label="Add"
      onSubmit={async () => {
        ok(
          await api.POST('/{organization}/_apis/userentitlements', {
            params: { path: { organization }, query: { 'api-version': VERSION } },
            body: { user: { principalName: email.trim() }, groups: group ? [group] : [] },
          }),
        );
        onAdded();
      }}
    >
      <TextField id="member-email" label="Email" required value={email} onInput={setEmail} />
      <SelectField
        id="member-group"
        label="Group"
        value={group}
        options={[
          ['', 'Members'],
          ['projectScopedUsers', GROUPS.projectScopedUsers],
          ['projectCollectionAdministrators', GROUPS.projectCollectionAdministrators],
        ]}
        onChange={setGroup}
      />
    </ActionForm>
  );
}
