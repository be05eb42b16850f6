import { useState } from 'preact/hooks';
import { api, ok } from '../api';
import { formatDateTime } from '../format';
import { Alert, Dialog, Page, Table, useLoad, ActionForm, TextField, SelectField } from '../ui/kit';

const VERSION = '7.1' as const;

export function ProjectsPage({ organization }: { organization: string }) {
  const path = { organization };
  const [creating, setCreating] = useState(false);
  const {
    value: projects,
    error,
    reload: load,
  } = useLoad(async () => ok(await api.GET('/{organization}/_apis/projects', { params: { path, query: { 'api-version': VERSION } } })).value, [organization]);
  return (
    <Page
      title="Projects"
      description="The projects of this organization."
      actions={
        <button type="button" class="button button-primary" onClick={() => setCreating(true)}>
          New project
        </button>
      }
    >
      <Alert error={error} />
      {!projects && !error && <p role="status">Loading…</p>}
      {projects && (
        <Table caption="Projects" columns={['Name', 'Visibility', 'Description', 'Last updated']}>
          {projects.map((project) => (
            <tr key={project.id}>
              <th scope="row">{project.name}</th>
              <td>{project.visibility}</td>
              <td>{project.description || '—'}</td>
              <td>{formatDateTime(project.lastUpdateTime)}</td>
            </tr>
          ))}
        </Table>
      )}
      <Dialog title="Create a project" open={creating} onClose={() => setCreating(false)}>
        <CreateProjectForm
          organization={organization}
          onCreated={() => {
            setCreating(false);
            void load();
          }}
        />
      </Dialog>
    </Page>
  );
}

function CreateProjectForm({ organization, onCreated }: { organization: string; onCreated: () => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [visibility, setVisibility] = useState<'private' | 'public'>('private');
  return (
    <ActionForm
      label="Create"
      onSubmit={async () => {
        ok(
          await api.POST('/{organization}/_apis/projects', {
            params: { path: { organization }, query: { 'api-version': VERSION } },
            body: { name: name.trim(), description: description.trim(), visibility },
          }),
        );
        onCreated();
      }}
    >
      <TextField id="project-name" label="Name" required maxLength={64} value={name} onInput={setName} />
      <TextField id="project-description" label="Description" value={description} onInput={setDescription} />
      <SelectField
        id="project-visibility"
        label="Visibility"
        value={visibility}
        options={[
          ['private', 'Private'],
          ['public', 'Public'],
        ]}
        onChange={setVisibility}
      />
    </ActionForm>
  );
}
