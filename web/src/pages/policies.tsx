import { useEffect, useState } from 'preact/hooks';
import { api, ok } from '../api';
import type { operations } from '../api/schema';
import { formatDate, formatDateTime } from '../format';
import { Alert, Notice, Page, useAction, Table, NumberField } from '../ui/kit';

type Policies = operations['token-policies-get']['responses'][200]['content']['application/json'];
type Update = NonNullable<operations['token-policies-update']['requestBody']>['content']['application/json'];
type Preview = operations['token-policies-preview']['responses'][200]['content']['application/json'];
const VERSION = '7.1' as const;

function Toggle({ id, label, checked, onChange }: { id: string; label: string; checked: boolean; onChange: (value: boolean) => void }) {
  return (
    <label class="checkbox" for={id}>
      <input id={id} type="checkbox" checked={checked} onChange={(event) => onChange(event.currentTarget.checked)} /> {label}
    </label>
  );
}

export function PoliciesPage({ organization }: { organization: string }) {
  const path = { organization };
  const [current, setCurrent] = useState<Policies>();
  const [draft, setDraft] = useState<Update>({});
  const [preview, setPreview] = useState<Preview>();
  const [saved, setSaved] = useState(false);
  const [loadError, setLoadError] = useState<unknown>();
  const [busy, error, run] = useAction();
  const load = async () => {
    try {
      const policies = ok(await api.GET('/{organization}/_apis/tokens/policies', { params: { path, query: { 'api-version': VERSION } } }));
      setCurrent(policies);
      setDraft({
        maxPatLifespan: { enabled: policies.maxPatLifespan.enabled, maxDays: policies.maxPatLifespan.maxDays },
        restrictFullScopePats: { enabled: policies.restrictFullScopePats.enabled },
        restrictGlobalPats: { enabled: policies.restrictGlobalPats.enabled },
        restrictPatCreation: { enabled: policies.restrictPatCreation.enabled, allowPackagingScopes: policies.restrictPatCreation.allowPackagingScopes },
        leakedPatAutoRevocation: { enabled: policies.leakedPatAutoRevocation.enabled },
        sshKeys: {
          allowed: policies.sshKeys.allowed,
          defaultLifespanDays: policies.sshKeys.defaultLifespanDays,
          minimumRsaBits: policies.sshKeys.minimumRsaBits,
        },
      });
    } catch (caught) {
      setLoadError(caught);
    }
  };
  useEffect(() => {
    void load();
  }, [organization]);
  const change = (next: Update) => {
    setDraft({ ...draft, ...next });
    setPreview(undefined);
    setSaved(false);
  };
  if (loadError)
    return (
      <Page title="Policies">
        <Alert error={loadError} />
      </Page>
    );
  if (!current)
    return (
      <Page title="Policies">
        <p role="status">Loading…</p>
      </Page>
    );
  return (
    <Page title="Policies" description="Rules for the personal access tokens and SSH keys of this organization. Preview who would be affected before you save.">
      <form
        class="stack card"
        onSubmit={(event) => {
          event.preventDefault();
          void run(async () => {
            const response = await api.PUT('/{organization}/_apis/tokens/policies', {
              params: { path, query: { 'api-version': VERSION } },
              headers: { 'If-Match': `"${current.revision}"` },
              body: draft,
            });
            setCurrent(ok(response));
            setPreview(undefined);
            setSaved(true);
          });
        }}
      >
        <fieldset>
          <legend>Personal access tokens</legend>
          <Toggle
            id="max-lifespan"
            label="Enforce a maximum lifetime"
            checked={draft.maxPatLifespan?.enabled ?? false}
            onChange={(enabled) => change({ maxPatLifespan: { ...draft.maxPatLifespan, enabled } })}
          />
          <NumberField
            id="max-days"
            label="Maximum lifetime (days)"
            min={1}
            max={3650}
            value={draft.maxPatLifespan?.maxDays ?? 90}
            onInput={(maxDays) => change({ maxPatLifespan: { ...draft.maxPatLifespan, maxDays } })}
          />
          <Toggle
            id="restrict-full"
            label="Restrict full access tokens"
            checked={draft.restrictFullScopePats?.enabled ?? false}
            onChange={(enabled) => change({ restrictFullScopePats: { enabled } })}
          />
          <Toggle
            id="restrict-global"
            label="Restrict tokens for all organizations"
            checked={draft.restrictGlobalPats?.enabled ?? false}
            onChange={(enabled) => change({ restrictGlobalPats: { enabled } })}
          />
          <Toggle
            id="restrict-creation"
            label="Restrict creating tokens"
            checked={draft.restrictPatCreation?.enabled ?? false}
            onChange={(enabled) => change({ restrictPatCreation: { ...draft.restrictPatCreation, enabled } })}
          />
          <Toggle
            id="leak-revocation"
            label="Revoke leaked tokens automatically"
            checked={draft.leakedPatAutoRevocation?.enabled ?? true}
            onChange={(enabled) => change({ leakedPatAutoRevocation: { enabled } })}
          />
        </fieldset>
        <fieldset>
          <legend>SSH keys</legend>
          <Toggle
            id="ssh-allowed"
            label="Allow SSH keys"
            checked={draft.sshKeys?.allowed ?? true}
            onChange={(allowed) => change({ sshKeys: { ...draft.sshKeys, allowed } })}
          />
          <NumberField
            id="ssh-default"
            label="Default lifetime (days)"
            min={1}
            max={3650}
            value={draft.sshKeys?.defaultLifespanDays ?? 365}
            onInput={(defaultLifespanDays) => change({ sshKeys: { ...draft.sshKeys, defaultLifespanDays } })}
          />
        </fieldset>
        <p class="hint">
          Revision {current.revision}
          {current.lastModifiedDate ? `, last changed ${formatDateTime(current.lastModifiedDate)}` : ''}.
        </p>
        <Alert error={error} />
        {saved && <Notice>Policies saved.</Notice>}
        <div class="form-actions">
          <button
            type="button"
            class="button"
            disabled={busy}
            onClick={() =>
              void run(async () => {
                setPreview(
                  ok(await api.POST('/{organization}/_apis/tokens/policies/preview', { params: { path, query: { 'api-version': VERSION } }, body: draft })),
                );
              })
            }
          >
            Preview
          </button>
          <button type="submit" class="button button-primary" disabled={busy}>
            Save
          </button>
        </div>
      </form>
      {preview && (
        <section aria-labelledby="preview-title" class="card">
          <h2 id="preview-title">Who would be affected</h2>
          {preview.count === 0 ? (
            <Notice>No active token breaks these policies.</Notice>
          ) : (
            <>
              <p role="status">
                {preview.count} active token(s) break these policies. Saving does not revoke them; they are refused when used or renewed against the new rules.
              </p>
              <Table caption="Tokens that break the proposed policies" columns={['Owner', 'Token', 'Expires', 'Breaks']}>
                {preview.value.map((item) => (
                  <tr key={item.authorizationId}>
                    <td>
                      {item.owner.displayName} <span class="hint">{item.owner.principalName}</span>
                    </td>
                    <th scope="row">{item.displayName}</th>
                    <td>{formatDate(item.validTo)}</td>
                    <td>{item.violations.join(', ')}</td>
                  </tr>
                ))}
              </Table>
            </>
          )}
        </section>
      )}
    </Page>
  );
}
