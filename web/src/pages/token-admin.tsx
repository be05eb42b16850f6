import { useState } from 'preact/hooks';
import { api, ok } from '../api';
import type { operations } from '../api/schema';
import { endOfDay, formatDate, formatLastUsed } from '../format';
import { describeScopes } from '../scopes';
import { Alert, MoreButton, Notice, Page, StatusBadge, useAction, usePaged, Table, ActionForm, TextField } from '../ui/kit';

type Identity = operations['identities-search']['responses'][200]['content']['application/json']['value'][number];

export function TokenAdminPage({ organization }: { organization: string }) {
  const path = { organization };
  const [query, setQuery] = useState('');
  const [people, setPeople] = useState<Identity[]>();
  const [person, setPerson] = useState<Identity>();
  const [busy, error, run] = useAction();
  return (
    <Page title="Token administration" description="Find a person to see and revoke their personal access tokens, or revoke tokens by rule.">
      <form
        class="toolbar"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          void run(async () => {
            const found = ok(
              await api.GET('/{organization}/_apis/identities', {
                params: { path, query: { 'api-version': '7.1', searchFilter: 'General', filterValue: query.trim() } },
              }),
            );
            setPeople(found.value);
            setPerson(undefined);
          });
        }}
      >
        <div class="field-inline">
          <label for="person-search">Find a person</label>
          <input
            id="person-search"
            class="input"
            type="search"
            required
            value={query}
            placeholder="Name or email"
            onInput={(event) => setQuery(event.currentTarget.value)}
          />
        </div>
        <button type="submit" class="button" disabled={busy}>
          Search
        </button>
      </form>
      <Alert error={error} />
      {people?.length === 0 && <Notice>No member matches.</Notice>}
      {people && people.length > 0 && (
        <ul class="plain-list" aria-label="People found">
          {people.map((identity) => (
            <li key={identity.id}>
              <button type="button" class="link-button" aria-pressed={person?.id === identity.id} onClick={() => setPerson(identity)}>
                {identity.providerDisplayName} <span class="hint">{identity.properties.Mail?.$value ?? identity.properties.Account?.$value ?? ''}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {person && <PersonTokens organization={organization} person={person} />}
      <RevocationRuleForm organization={organization} />
    </Page>
  );
}

function PersonTokens({ organization, person }: { organization: string; person: Identity }) {
  const path = { organization, subjectDescriptor: person.descriptor };
  const [busy, error, run] = useAction();
  const list = usePaged(
    async (continuationToken) => {
      const page = ok(
        await api.GET('/{organization}/_apis/tokenadmin/personalaccesstokens/{subjectDescriptor}', {
          params: { path, query: { 'api-version': '7.1', pageSize: 25, ...(continuationToken ? { continuationToken } : {}) } },
        }),
      );
      return { items: page.value, continuation: page.continuationToken };
    },
    [person.descriptor],
  );
  return (
    <section aria-labelledby="person-tokens" class="card">
      <h2 id="person-tokens">Tokens of {person.providerDisplayName}</h2>
      <Alert error={list.error ?? error} />
      {list.items?.length === 0 && <Notice>{person.providerDisplayName} has no personal access tokens here.</Notice>}
      {list.items && list.items.length > 0 && (
        <Table caption={`Personal access tokens of ${person.providerDisplayName}`} columns={['Name', 'Status', 'Scopes', 'Expires', 'Last used']} actions>
          {list.items.map((token) => (
            <tr key={token.authorizationId}>
              <th scope="row">{token.displayName ?? '(unnamed)'}</th>
              <td>
                <StatusBadge status={token.isValid ? 'Active' : 'Inactive'} />
              </td>
              <td class="scopes">{describeScopes(token.scope)}</td>
              <td>{formatDate(token.validTo)}</td>
              <td>{formatLastUsed(token.lastUsed)}</td>
              <td class="actions">
                {token.isValid && (
                  <button
                    type="button"
                    class="button button-small button-danger"
                    disabled={busy}
                    aria-label={`Revoke ${token.displayName ?? 'token'}`}
                    onClick={() =>
                      void run(async () => {
                        ok(
                          await api.POST('/{organization}/_apis/tokenadmin/revocations', {
                            params: { path: { organization }, query: { 'api-version': '7.1' } },
                            body: [{ authorizationId: token.authorizationId }],
                          }),
                        );
                        await list.reload();
                      })
                    }
                  >
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
      <MoreButton hasMore={list.hasMore} loading={list.loading} onClick={() => void list.more()} />
    </section>
  );
}

function RevocationRuleForm({ organization }: { organization: string }) {
  const [scopes, setScopes] = useState('');
  const [before, setBefore] = useState('');
  const [done, setDone] = useState(false);
  return (
    <section class="card" aria-labelledby="rule-title">
      <h2 id="rule-title">Revocation rule</h2>
      <ActionForm
        label="Apply rule"
        danger
        onSubmit={async () => {
          setDone(false);
          ok(
            await api.POST('/{organization}/_apis/tokenadmin/revocationrules', {
              params: { path: { organization }, query: { 'api-version': '7.1' } },
              body: { scopes: scopes.trim(), ...(before ? { createdBefore: endOfDay(before) } : {}) },
            }),
          );
          setDone(true);
        }}
      >
        <p class="hint">Revokes every token of this organization that holds any of the scopes, optionally only those created before a date.</p>
        <TextField
          id="rule-scopes"
          label="Scopes (space-separated)"
          required
          value={scopes}
          placeholder="vso.code_write vso.packaging_write"
          onInput={setScopes}
        />
        <div class="field">
          <label for="rule-before">Created before (optional)</label>
          <input id="rule-before" class="input" type="date" value={before} onInput={(event) => setBefore(event.currentTarget.value)} />
        </div>
        {done && <Notice>The rule was applied.</Notice>}
      </ActionForm>
    </section>
  );
}
