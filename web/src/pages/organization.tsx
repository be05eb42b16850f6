import { useEffect, useState } from 'preact/hooks';
import { api, ok } from '../api';
import { Alert, Notice, Page, useAction, ActionForm } from '../ui/kit';

export function OrganizationPage({ organization }: { organization: string }) {
  const path = { organization };
  const [limited, setLimited] = useState<boolean>();
  const [saved, setSaved] = useState(false);
  const [, error, run] = useAction();
  useEffect(() => {
    void run(async () => {
      setLimited(
        ok(await api.GET('/{organization}/_apis/organization/settings', { params: { path, query: { 'api-version': '7.1' } } })).limitUserVisibilityToProjects,
      );
    });
  }, [organization]);
  return (
    <Page title="Overview" description={`Settings of the ${organization} organization.`}>
      <Alert error={error} />
      {limited !== undefined && (
        <div class="card">
          <ActionForm
            label="Save"
            onSubmit={async () => {
              setSaved(false);
              const body = { limitUserVisibilityToProjects: limited };
              setLimited(
                ok(await api.PATCH('/{organization}/_apis/organization/settings', { params: { path, query: { 'api-version': '7.1' } }, body }))
                  .limitUserVisibilityToProjects,
              );
              setSaved(true);
            }}
          >
            <label class="checkbox">
              <input type="checkbox" checked={limited} onChange={(event) => setLimited(event.currentTarget.checked)} /> Limit user visibility and collaboration
              to specific projects
            </label>
            <p class="hint">Members of the Project-Scoped Users group then see only the projects they belong to and none of the organization settings.</p>
            {saved && <Notice>Saved.</Notice>}
          </ActionForm>
        </div>
      )}
    </Page>
  );
}
