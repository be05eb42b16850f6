import { useEffect, useState } from 'preact/hooks';
import { api, ok } from '../api';
import type { operations } from '../api/schema';
import { formatDateTime } from '../format';
import { Alert, Dialog, Page, useAction } from '../ui/kit';

type Project = operations['projects-list']['responses'][200]['content']['application/json']['value'][number];
const VERSION = '7.1' as const;

export function ProjectsPage({ organization }: { organization: string }) {
  const path = { organization };
  const [projects, setProjects] = useState<Project[]>();
  const [creating, setCreating] = useState(false);
  const [, error, run] = useAction();
  const load = () =>
    run(async () => {
      setProjects(ok(await api.GET('/{organization}/_apis/projects', { params: { path, query: { 'api-version': VERSION } } })).value);
    });
  useEffect(() => {
    void load();
  }, [organization]);
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
        <div class="table-wrap">
          <table class="table">
            <caption class="visually-hidden">Projects</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Visibility</th>
                <th scope="col">Description</th>
                <th scope="col">Last updated</th>
              </tr>
            </thead>
            <tbody>
              {projects.map((project) => (
                <tr key={project.id}>
                  <th scope="row">{project.name}</th>
                  <td>{project.visibility}</td>
                  <td>{project.description || '—'}</td>
                  <td>{formatDateTime(project.lastUpdateTime)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
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
  const [busy, error, run] = useAction();
  return (
    <form
      class="stack"
      onSubmit={(event) => {
        event.preventDefault();
        void run(async () => {
          ok(
            await api.POST('/{organization}/_apis/projects', {
              params: { path: { organization }, query: { 'api-version': VERSION } },
              body: { name: name.trim(), description: description.trim(), visibility },
            }),
          );
          onCreated();
        });
      }}
    >
      <div class="field">
        <label for="project-name">Name</label>
        <input id="project-name" class="input" required maxLength={64} value={name} onInput={(event) => setName(event.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="project-description">Description</label>
        <textarea id="project-description" class="input" rows={2} value={description} onInput={(event) => setDescription(event.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="project-visibility">Visibility</label>
        <select id="project-visibility" class="input" value={visibility} onChange={(event) => setVisibility(event.currentTarget.value as 'private' | 'public')}>
          <option value="private">Private</option>
          <option value="public">Public</option>
        </select>
      </div>
      <Alert error={error} />
      <div class="form-actions">
        <button type="submit" class="button button-primary" disabled={busy}>
          Create
        </button>
      </div>
    </form>
  );
}
