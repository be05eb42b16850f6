import { useEffect, useState } from 'preact/hooks';
import { api, ok } from '../api';
import type { operations } from '../api/schema';
import { formatDateTime } from '../format';
import { Alert, Notice, Page, useAction, ActionForm, NumberField } from '../ui/kit';

type Reader = operations['audit-readers-list']['responses'][200]['content']['application/json']['value'][number];
type Member = operations['members-list']['responses'][200]['content']['application/json']['members'][number];
const VERSION = '7.1-preview.1' as const;

export function AuditSettingsPage({ organization }: { organization: string }) {
  const path = { organization };
  const [readers, setReaders] = useState<Reader[]>();
  const [members, setMembers] = useState<Member[]>([]);
  const [candidate, setCandidate] = useState('');
  const [retention, setRetention] = useState<number>();
  const [saved, setSaved] = useState(false);
  const [busy, error, run] = useAction();
  const load = () =>
    run(async () => {
      setReaders(ok(await api.GET('/{organization}/_apis/audit/readers', { params: { path, query: { 'api-version': VERSION } } })).value);
      setRetention(ok(await api.GET('/{organization}/_apis/audit/settings', { params: { path, query: { 'api-version': VERSION } } })).retentionDays);
      setMembers(ok(await api.GET('/{organization}/_apis/userentitlements', { params: { path, query: { 'api-version': '7.1' } } })).members);
    });
  useEffect(() => {
    void load();
  }, [organization]);
  return (
    <Page title="Audit readers and retention" description="Who besides administrators may read the audit log, and how long it is kept.">
      <Alert error={error} />
      <section class="card stack" aria-labelledby="readers-title">
        <h2 id="readers-title">Audit readers</h2>
        {readers?.length === 0 && <Notice>Only administrators can read the audit log.</Notice>}
        <ul class="plain-list">
          {(readers ?? []).map((reader) => (
            <li key={reader.userId} class="list-row">
              <span>
                {reader.displayName}{' '}
                <span class="hint">
                  {reader.principalName}, since {formatDateTime(reader.grantedOn)}
                </span>
              </span>
              <button
                type="button"
                class="button button-small button-danger"
                disabled={busy}
                aria-label={`Remove ${reader.displayName} from audit readers`}
                onClick={() =>
                  void run(async () => {
                    ok(
                      await api.DELETE('/{organization}/_apis/audit/readers/{userId}', {
                        params: { path: { organization, userId: reader.userId }, query: { 'api-version': VERSION } },
                      }),
                    );
                    await load();
                  })
                }
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
        <form
          class="toolbar"
          onSubmit={(event) => {
            event.preventDefault();
            void run(async () => {
              ok(
                await api.PUT('/{organization}/_apis/audit/readers/{userId}', {
                  params: { path: { organization, userId: candidate }, query: { 'api-version': VERSION } },
                  body: {},
                }),
              );
              await load();
            });
          }}
        >
          <div class="field-inline">
            <label for="reader-candidate">Member</label>
            <select id="reader-candidate" class="input" required value={candidate} onChange={(event) => setCandidate(event.currentTarget.value)}>
              <option value="">Choose a member</option>
              {members.map((member) => (
                <option key={member.id} value={member.id}>
                  {member.user.displayName} ({member.user.principalName})
                </option>
              ))}
            </select>
          </div>
          <button type="submit" class="button" disabled={busy || !candidate}>
            Add reader
          </button>
        </form>
      </section>
      <section class="card" aria-labelledby="retention-title">
        <h2 id="retention-title">Retention</h2>
        <ActionForm
          label="Save"
          onSubmit={async () => {
            setSaved(false);
            setRetention(
              ok(
                await api.PATCH('/{organization}/_apis/audit/settings', {
                  params: { path, query: { 'api-version': VERSION } },
                  body: { retentionDays: retention ?? 90 },
                }),
              ).retentionDays,
            );
            setSaved(true);
          }}
        >
          <NumberField id="retention-days" label="Keep audit events for (days)" min={1} max={3650} value={retention} onInput={setRetention} />
          {saved && <Notice>Retention saved.</Notice>}
        </ActionForm>
      </section>
    </Page>
  );
}
