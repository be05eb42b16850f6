import { useState } from 'preact/hooks';
import { api, ok } from '../api';
import type { operations } from '../api/schema';
import { formatDate, formatDateTime } from '../format';
import { SSH_KEY_TYPES } from '../../../shared/tokens/ssh-key-types.js';
import {
  Alert,
  Dialog,
  MoreButton,
  Notice,
  Page,
  StatusBadge,
  useAction,
  usePaged,
  Table,
  SelectField,
  STATUS_FILTERS,
  ActionForm,
  TextField,
} from '../ui/kit';

type SshKey = NonNullable<operations['sshkeys-create']['responses'][200]['content']['application/json']['sshKey']>;
const VERSION = '7.1' as const;
const MAX_KEY_BYTES = 16 * 1024;

/** Checked before sending: one public key line of a known type, not a private key, not too large. */
export function checkPublicKey(text: string): string | undefined {
  const value = text.trim();
  if (!value) return 'Paste a public key or choose a .pub file.';
  if (value.length > MAX_KEY_BYTES) return 'This is too large to be a public key.';
  if (/PRIVATE KEY/.test(value)) return 'This is a private key. Never share it: add the public key (the .pub file) instead.';
  if (/^-----BEGIN|^---- BEGIN SSH2 PUBLIC KEY/.test(value)) return undefined;
  const type = SSH_KEY_TYPES.find((candidate) => value.split(/\s+/).includes(candidate));
  if (!type) return `Unknown key type. Supported: ${SSH_KEY_TYPES.join(', ')}.`;
  const data = value.split(/\s+/)[value.split(/\s+/).indexOf(type) + 1] ?? '';
  if (!/^[A-Za-z0-9+/]+=*$/.test(data)) return 'The key data is not valid base64.';
  if (type === 'ssh-rsa' && data.length < 360) return 'RSA keys must have at least 2048 bits.';
  return undefined;
}

export function KeysPage({ organization }: { organization: string }) {
  const path = { organization };
  const [filter, setFilter] = useState<(typeof STATUS_FILTERS)[number][0]>('active');
  const [adding, setAdding] = useState(false);
  const [busy, error, run] = useAction();
  const list = usePaged<SshKey>(
    async (continuationToken) => {
      const page = ok(
        await api.GET('/{organization}/_apis/tokens/sshkeys', {
          params: { path, query: { 'api-version': VERSION, displayFilterOption: filter, $top: 25, ...(continuationToken ? { continuationToken } : {}) } },
        }),
      );
      return 'sshKeys' in page ? { items: page.sshKeys, continuation: page.continuationToken } : { items: [], continuation: undefined };
    },
    [organization, filter],
  );
  const remove = (key: SshKey, removeEntirely: boolean) =>
    run(async () => {
      ok(
        await api.DELETE('/{organization}/_apis/tokens/sshkeys', {
          params: { path, query: { 'api-version': VERSION, authorizationId: key.authorizationId, remove: removeEntirely } },
        }),
      );
      await list.reload();
    });
  return (
    <Page
      title="SSH public keys"
      description="Keys let Git over SSH act as you. Add only the public half; the private key never leaves your machine."
      actions={
        <button type="button" class="button button-primary" onClick={() => setAdding(true)}>
          New key
        </button>
      }
    >
      <div class="toolbar">
        <SelectField id="key-filter" label="Status" value={filter} options={STATUS_FILTERS} onChange={setFilter} />
      </div>
      <Alert error={list.error ?? error} />
      {list.items?.length === 0 && <Notice>No {filter} SSH keys.</Notice>}
      {list.items && list.items.length > 0 && (
        <Table caption="Your SSH public keys" columns={['Name', 'Status', 'Type', 'Fingerprint', 'Expires', 'Last used']} actions>
          {list.items.map((key) => (
            <tr key={key.authorizationId}>
              <th scope="row">{key.displayName}</th>
              <td>
                <StatusBadge status={key.status} />
              </td>
              <td>
                {key.keyType} ({key.keySize} bits)
              </td>
              <td class="mono">{key.fingerprint}</td>
              <td>{formatDate(key.validTo)}</td>
              <td>{key.lastUsed ? formatDateTime(key.lastUsed) : 'Never'}</td>
              <td class="actions">
                {key.status === 'active' && (
                  <button
                    type="button"
                    class="button button-small"
                    disabled={busy}
                    aria-label={`Revoke ${key.displayName}`}
                    onClick={() => void remove(key, false)}
                  >
                    Revoke
                  </button>
                )}
                <button
                  type="button"
                  class="button button-small button-danger"
                  disabled={busy}
                  aria-label={`Remove ${key.displayName}`}
                  onClick={() => void remove(key, true)}
                >
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </Table>
      )}
      <MoreButton hasMore={list.hasMore} loading={list.loading} onClick={() => void list.more()} />
      <Dialog title="Add an SSH public key" open={adding} onClose={() => setAdding(false)}>
        <AddKeyForm
          organization={organization}
          onAdded={() => {
            setAdding(false);
            void list.reload();
          }}
        />
      </Dialog>
    </Page>
  );
}

function AddKeyForm({ organization, onAdded }: { organization: string; onAdded: () => void }) {
  const [name, setName] = useState('');
  const [key, setKey] = useState('');
  const [fileProblem, setFileProblem] = useState<string>();
  return (
    <ActionForm
      label="Add"
      onSubmit={async () => {
        const invalid = checkPublicKey(key);
        if (invalid) throw new Error(invalid);
        const result = ok(
          await api.POST('/{organization}/_apis/tokens/sshkeys', {
            params: { path: { organization }, query: { 'api-version': VERSION } },
            body: { displayName: name.trim(), publicData: key.trim() },
          }),
        );
        if (!result.sshKey) throw new Error(result.sshKeyErrorMessage ?? result.sshKeyError);
        onAdded();
      }}
    >
      <TextField id="key-name" label="Name" required maxLength={256} value={name} onInput={setName} />
      <div class="field">
        <label for="key-data">Public key</label>
        <textarea
          id="key-data"
          class="input mono"
          rows={5}
          value={key}
          placeholder="ssh-ed25519 AAAA… you@example.com"
          onInput={(event) => setKey(event.currentTarget.value)}
        />
      </div>
      <div class="field">
        <label for="key-file">Or choose a .pub file</label>
        <input
          id="key-file"
          type="file"
          accept=".pub,text/plain"
          onChange={(event) => {
            const file = event.currentTarget.files?.[0];
            if (!file) return;
            if (file.size > MAX_KEY_BYTES) {
              setFileProblem('This file is too large to be a public key.');
              return;
            }
            void file.text().then((text) => {
              setKey(text.trim());
              setFileProblem(checkPublicKey(text));
              if (!name) setName(file.name.replace(/\.pub$/, ''));
            });
          }}
        />
      </div>
      {fileProblem && (
        <p class="message message-error" role="alert">
          {fileProblem}
        </p>
      )}
    </ActionForm>
  );
}
