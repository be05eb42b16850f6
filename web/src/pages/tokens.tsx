import { useEffect, useState } from 'preact/hooks';
import { api, ok, download } from '../api';
import type { operations } from '../api/schema';
import { addDays, daysUntil, endOfDay, formatDate, formatDateTime, formatLastUsed, inputDate } from '../format';
import { FULL_ACCESS, SCOPE_GROUPS, describeScopes } from '../scopes';
import {
  Alert,
  CopyField,
  Dialog,
  MoreButton,
  Notice,
  Page,
  StatusBadge,
  usePaged,
  Table,
  SelectField,
  STATUS_FILTERS,
  ActionForm,
  TextField,
} from '../ui/kit';

type PatToken = operations['pats-create']['responses'][200]['content']['application/json']['patToken'] & {};
type Policies = operations['token-policies-mine']['responses'][200]['content']['application/json'];
type Filter = (typeof STATUS_FILTERS)[number][0];
const VERSION = '7.1' as const;

/** The expiry calendar of the caller's tokens and keys (subscribable with a PAT holding vso.tokens). */
export const calendarPath = (organization: string) => `/${encodeURIComponent(organization)}/_apis/tokens/pats/expirations.ics?api-version=${VERSION}`;

function statusOf(token: PatToken, filter: Filter): string {
  if (filter === 'revoked') return 'Revoked';
  return Date.parse(token.validTo) <= Date.now() ? 'Expired' : 'Active';
}

/** The organization's token policies as they apply to the viewer. */
function usePolicies(organization: string): Policies | undefined {
  const [policies, setPolicies] = useState<Policies>();
  useEffect(() => {
    api
      .GET('/{organization}/_apis/tokens/policies/mine', { params: { path: { organization }, query: { 'api-version': VERSION } } })
      .then((outcome) => setPolicies(ok(outcome)))
      .catch(() => undefined);
  }, [organization]);
  return policies;
}

export function TokensPage({ organization }: { organization: string }) {
  const path = { organization };
  const [filter, setFilter] = useState<Filter>('active');
  const [search, setSearch] = useState('');
  const [creating, setCreating] = useState(false);
  const [renewing, setRenewing] = useState<PatToken>();
  const [rotating, setRotating] = useState<PatToken>();
  const [revoking, setRevoking] = useState<PatToken>();
  const [secret, setSecret] = useState<{ token: PatToken; title: string }>();
  const [downloadError, setDownloadError] = useState<unknown>();
  const policies = usePolicies(organization);
  const list = usePaged<PatToken>(
    async (continuationToken) => {
      const outcome = await api.GET('/{organization}/_apis/tokens/pats', {
        params: {
          path,
          query: {
            'api-version': VERSION,
            displayFilterOption: filter,
            $top: 25,
            sortByOption: 'displayDate',
            ...(continuationToken ? { continuationToken } : {}),
          },
        },
      });
      const page = ok(outcome);
      if (!('patTokens' in page)) return { items: [], continuation: undefined };
      return { items: page.patTokens, continuation: page.continuationToken };
    },
    [organization, filter],
  );
  const needle = search.trim().toLowerCase();
  const shown = (list.items ?? []).filter((token) => !needle || token.displayName.toLowerCase().includes(needle) || token.scope.includes(needle));

  const downloadCalendar = async () => {
    setDownloadError(undefined);
    await download(calendarPath(organization), `${organization}-expirations.ics`).catch(setDownloadError);
  };

  return (
    <Page
      title="Personal access tokens"
      description="Tokens act as you against the API, the npm feeds and Git. Give each one the least scope and the shortest life it needs."
      actions={
        <>
          <button type="button" class="button" onClick={() => void downloadCalendar()}>
            Expiry calendar (.ics)
          </button>
          <button type="button" class="button button-primary" onClick={() => setCreating(true)}>
            New token
          </button>
        </>
      }
    >
      <Alert error={downloadError} />
      <div class="toolbar" role="search">
        <SelectField id="token-filter" label="Status" value={filter} options={STATUS_FILTERS} onChange={setFilter} />
        <div class="field-inline">
          <label for="token-search">Search</label>
          <input
            id="token-search"
            class="input"
            type="search"
            value={search}
            placeholder="Name or scope"
            onInput={(event) => setSearch(event.currentTarget.value)}
          />
        </div>
      </div>
      <Alert error={list.error} />
      {list.items && shown.length === 0 && (
        <Notice>
          No {filter} tokens{needle ? ' match the search' : ''}.
        </Notice>
      )}
      {shown.length > 0 && (
        <Table caption="Your personal access tokens" columns={['Name', 'Status', 'Organization', 'Scopes', 'Expires', 'Last used']} actions>
          {shown.map((token) => {
            const status = statusOf(token, filter);
            const soon = status === 'Active' && daysUntil(token.validTo) <= 14;
            return (
              <tr key={token.authorizationId} class={soon ? 'row-warning' : undefined}>
                <th scope="row">{token.displayName}</th>
                <td>
                  <StatusBadge status={status} />
                </td>
                <td>{token.targetAccounts === null ? 'All accessible organizations' : organization}</td>
                <td class="scopes">{describeScopes(token.scope)}</td>
                <td>
                  {formatDate(token.validTo)}
                  {soon && <span class="hint"> (expires soon)</span>}
                </td>
                <td>{formatLastUsed(token.lastUsed)}</td>
                <td class="actions">
                  {status !== 'Revoked' && (
                    <>
                      <button type="button" class="button button-small" onClick={() => setRenewing(token)} aria-label={`Renew ${token.displayName}`}>
                        Renew
                      </button>
                      {status === 'Active' && (
                        <button type="button" class="button button-small" onClick={() => setRotating(token)} aria-label={`Rotate ${token.displayName}`}>
                          Rotate
                        </button>
                      )}
                      <button
                        type="button"
                        class="button button-small button-danger"
                        onClick={() => setRevoking(token)}
                        aria-label={`Revoke ${token.displayName}`}
                      >
                        Revoke
                      </button>
                    </>
                  )}
                </td>
              </tr>
            );
          })}
        </Table>
      )}
      <MoreButton hasMore={list.hasMore} loading={list.loading} onClick={() => void list.more()} />

      <Dialog title="Create a new personal access token" open={creating} onClose={() => setCreating(false)}>
        <CreateForm
          organization={organization}
          policies={policies}
          onCreated={(token) => {
            setCreating(false);
            setSecret({ token, title: 'Your new token' });
            void list.reload();
          }}
        />
      </Dialog>
      <Dialog title="Renew token" open={renewing !== undefined} onClose={() => setRenewing(undefined)}>
        {renewing && (
          <RenewForm
            organization={organization}
            token={renewing}
            policies={policies}
            onDone={() => {
              setRenewing(undefined);
              void list.reload();
            }}
          />
        )}
      </Dialog>
      <Dialog title="Rotate token" open={rotating !== undefined} onClose={() => setRotating(undefined)}>
        {rotating && (
          <RotateForm
            organization={organization}
            token={rotating}
            onRotated={(token) => {
              setRotating(undefined);
              setSecret({ token, title: 'Your rotated token' });
              void list.reload();
            }}
          />
        )}
      </Dialog>
      <Dialog title="Revoke token" open={revoking !== undefined} onClose={() => setRevoking(undefined)}>
        {revoking && (
          <RevokeForm
            organization={organization}
            token={revoking}
            onDone={() => {
              setRevoking(undefined);
              void list.reload();
            }}
          />
        )}
      </Dialog>
      <Dialog title={secret?.title ?? 'Token'} open={secret !== undefined} onClose={() => setSecret(undefined)}>
        {secret && (
          <div class="stack">
            <p class="message message-warning" role="status">
              Copy the token now. It is shown only once and is not stored in this browser.
            </p>
            <CopyField label={`Token for ${secret.token.displayName}`} value={secret.token.token ?? ''} />
            <p class="hint">Expires {formatDateTime(secret.token.validTo)}.</p>
            <div class="form-actions">
              <button type="button" class="button button-primary" onClick={() => setSecret(undefined)}>
                Done
              </button>
            </div>
          </div>
        )}
      </Dialog>
    </Page>
  );
}

function PolicySummary({ policies }: { policies: Policies | undefined }) {
  if (!policies) return <p class="hint">Your organization's token policies apply; the service clamps the expiry to the maximum they allow.</p>;
  const rules = [
    policies.maxPatLifespanDays !== null ? `tokens live at most ${policies.maxPatLifespanDays} days` : 'no maximum lifetime',
    policies.fullScopePatsAllowed ? undefined : 'full access tokens are not allowed',
    policies.globalPatsAllowed ? undefined : 'tokens for all organizations are not allowed',
    policies.patCreation === 'restricted'
      ? 'you may not create tokens'
      : policies.patCreation === 'packagingOnly'
        ? 'you may create packaging tokens only'
        : undefined,
  ].filter(Boolean);
  return (
    <p class="message message-info" id="policy-summary">
      Organization policy: {rules.join('; ')}.
    </p>
  );
}

function maxDaysOf(policies: Policies | undefined): number | undefined {
  return policies?.maxPatLifespanDays ?? undefined;
}

function ExpiryPicker({ policies, value, onChange }: { policies: Policies | undefined; value: string; onChange: (isoDate: string) => void }) {
  const maxDays = maxDaysOf(policies);
  const presets = [7, 30, 60, 90, 180, 365].filter((days) => maxDays === undefined || days <= maxDays);
  const [preset, setPreset] = useState<string>(String(presets.includes(30) ? 30 : (presets[presets.length - 1] ?? 'custom')));
  const max = maxDays !== undefined ? inputDate(addDays(maxDays)) : undefined;
  useEffect(() => {
    if (preset !== 'custom') onChange(inputDate(addDays(Number(preset))));
  }, [preset]);
  return (
    <div class="field-row">
      <div class="field">
        <label for="expiry-preset">Expiration</label>
        <select id="expiry-preset" class="input" value={preset} onChange={(event) => setPreset(event.currentTarget.value)}>
          {presets.map((days) => (
            <option key={days} value={days}>
              {days} days
            </option>
          ))}
          <option value="custom">Custom defined</option>
        </select>
      </div>
      {preset === 'custom' && (
        <div class="field">
          <label for="expiry-date">Expires on</label>
          <input
            id="expiry-date"
            class="input"
            type="date"
            required
            min={inputDate(addDays(1))}
            max={max}
            value={value}
            onInput={(event) => {
              const chosen = event.currentTarget.value;
              onChange(max && chosen > max ? max : chosen);
            }}
          />
          {max && <span class="hint">At most {formatDate(endOfDay(max))} (policy).</span>}
        </div>
      )}
    </div>
  );
}

function ScopePicker({ scope, fullAllowed, onChange }: { scope: string[]; fullAllowed: boolean; onChange: (scope: string[]) => void }) {
  const full = scope.includes(FULL_ACCESS);
  return (
    <fieldset class="scopes-picker">
      <legend>Scopes</legend>
      <label class="radio">
        <input type="radio" name="scope-kind" checked={!full} onChange={() => onChange([])} /> Custom defined
      </label>
      {fullAllowed && (
        <label class="radio">
          <input type="radio" name="scope-kind" checked={full} onChange={() => onChange([FULL_ACCESS])} /> Full access
        </label>
      )}
      {!full && (
        <div class="scope-groups">
          {SCOPE_GROUPS.map((group) => {
            const chosen = group.levels.find((level) => scope.includes(level.scope))?.scope ?? '';
            const id = `scope-${group.label.replace(/\W+/g, '-').toLowerCase()}`;
            return (
              <div class="field-inline" key={group.label}>
                <label for={id}>{group.label}</label>
                <select
                  id={id}
                  class="input"
                  value={chosen}
                  onChange={(event) => {
                    const others = scope.filter((name) => !group.levels.some((level) => level.scope === name));
                    const picked = event.currentTarget.value;
                    onChange(picked ? [...others, picked] : others);
                  }}
                >
                  <option value="">None</option>
                  {group.levels.map((level) => (
                    <option key={level.scope} value={level.scope}>
                      {level.label}
                    </option>
                  ))}
                </select>
              </div>
            );
          })}
        </div>
      )}
    </fieldset>
  );
}

function CreateForm({ organization, policies, onCreated }: { organization: string; policies: Policies | undefined; onCreated: (token: PatToken) => void }) {
  const [name, setName] = useState('');
  const [allOrgs, setAllOrgs] = useState(false);
  const [expiry, setExpiry] = useState(inputDate(addDays(30)));
  const [scope, setScope] = useState<string[]>([]);
  return (
    <ActionForm
      label="Create"
      onSubmit={async () => {
        if (scope.length === 0) throw new Error('Choose at least one scope, or full access.');
        const result = ok(
          await api.POST('/{organization}/_apis/tokens/pats', {
            params: { path: { organization }, query: { 'api-version': VERSION } },
            body: { displayName: name.trim(), scope: scope.join(' '), validTo: endOfDay(expiry), allOrgs },
          }),
        );
        if (!result.patToken) throw new Error(result.patTokenErrorMessage ?? result.patTokenError);
        onCreated(result.patToken);
      }}
    >
      <PolicySummary policies={policies} />
      <TextField id="token-name" label="Name" required maxLength={256} value={name} onInput={setName} />
      <div class="field">
        <label for="token-organization">Organization</label>
        <select id="token-organization" class="input" value={allOrgs ? 'all' : 'one'} onChange={(event) => setAllOrgs(event.currentTarget.value === 'all')}>
          <option value="one">{organization}</option>
          {(policies?.globalPatsAllowed ?? true) && <option value="all">All accessible organizations</option>}
        </select>
      </div>
      <ExpiryPicker policies={policies} value={expiry} onChange={setExpiry} />
      <ScopePicker scope={scope} fullAllowed={policies?.fullScopePatsAllowed ?? true} onChange={setScope} />
    </ActionForm>
  );
}

function RenewForm({ organization, token, policies, onDone }: { organization: string; token: PatToken; policies: Policies | undefined; onDone: () => void }) {
  const [expiry, setExpiry] = useState(inputDate(addDays(30)));
  return (
    <ActionForm
      label="Renew"
      onSubmit={async () => {
        ok(
          await api.PUT('/{organization}/_apis/tokens/pats', {
            params: { path: { organization }, query: { 'api-version': VERSION } },
            body: { authorizationId: token.authorizationId, validTo: endOfDay(expiry) },
          }),
        );
        onDone();
      }}
    >
      <p>
        Give <strong>{token.displayName}</strong> a new expiry. Its secret does not change.
      </p>
      <PolicySummary policies={policies} />
      <ExpiryPicker policies={policies} value={expiry} onChange={setExpiry} />
    </ActionForm>
  );
}

function RotateForm({ organization, token, onRotated }: { organization: string; token: PatToken; onRotated: (token: PatToken) => void }) {
  const [grace, setGrace] = useState<'0' | '15' | '60' | '1440'>('60');
  return (
    <ActionForm
      label="Rotate"
      onSubmit={async () => {
        const result = ok(
          await api.POST('/{organization}/_apis/tokens/pats/rotate', {
            params: { path: { organization }, query: { 'api-version': VERSION, authorizationId: token.authorizationId, gracePeriodMinutes: Number(grace) } },
            body: {},
          }),
        );
        if (!result.patToken) throw new Error(result.patTokenErrorMessage ?? result.patTokenError);
        onRotated(result.patToken);
      }}
    >
      <p>
        Rotating <strong>{token.displayName}</strong> issues a new secret with the same name, scopes and expiry.
      </p>
      <SelectField
        id="grace"
        label="The old secret keeps working for"
        value={grace}
        options={[
          ['0', 'No grace period (stops now)'],
          ['15', '15 minutes'],
          ['60', '1 hour'],
          ['1440', '24 hours'],
        ]}
        onChange={setGrace}
      />
    </ActionForm>
  );
}

function RevokeForm({ organization, token, onDone }: { organization: string; token: PatToken; onDone: () => void }) {
  return (
    <ActionForm
      label="Revoke"
      danger
      onSubmit={async () => {
        ok(
          await api.DELETE('/{organization}/_apis/tokens/pats', {
            params: { path: { organization }, query: { 'api-version': VERSION, authorizationId: token.authorizationId } },
          }),
        );
        onDone();
      }}
    >
      <p>
        Revoke <strong>{token.displayName}</strong>? Anything using it stops working at once. This cannot be undone.
      </p>
    </ActionForm>
  );
}
