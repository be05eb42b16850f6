import { useEffect, useState } from 'preact/hooks';
import { api, ok } from '../api';
import type { operations } from '../api/schema';
import { formatDateTime } from '../format';
import { Alert, Page } from '../ui/kit';

type Project = operations['projects-list']['responses'][200]['content']['application/json']['value'][number];

export function ProjectsPage({ organization }: { organization: string }) {
  const [projects, setProjects] = useState<Project[]>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    api
      .GET('/{organization}/_apis/projects', { params: { path: { organization }, query: { 'api-version': '7.1' } } })
      .then((outcome) => setProjects(ok(outcome).value))
      .catch(setError);
  }, [organization]);
  return (
    <Page title="Projects" description="The projects of this organization.">
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
    </Page>
  );
}
