import { useState } from 'preact/hooks';
import { api, ok } from '../api';
import { formatDateTime } from '../format';
import { Alert, MoreButton, Notice, Page, StatusBadge, useAction, usePaged, SelectField } from '../ui/kit';

type Status = 'manualReview' | 'pending' | 'approved' | 'rejected';
const STATUSES: [Status, string][] = [
  ['manualReview', 'Manual review'],
  ['pending', 'Pending'],
  ['approved', 'Approved'],
  ['rejected', 'Rejected'],
];
const label = (status: string) => STATUSES.find(([value]) => value === status)?.[1] ?? status;

export function GrantsPage() {
  const [status, setStatus] = useState<Status>('manualReview');
  const [comments, setComments] = useState<Record<string, string>>({});
  const [busy, error, run] = useAction();
  const list = usePaged(async () => {
    const page = ok(await api.GET('/_apis/pipelines/freegrantrequests', { params: { query: { 'api-version': '7.1', status, $top: 50 } } }));
    return { items: page.value, continuation: undefined };
  }, [status]);
  return (
    <Page
      title="Free grant reviews"
      description="Requests for free pipeline parallelism, with the automatic review's rule results. Decide those sent to manual review."
    >
      <div class="toolbar">
        <SelectField id="grant-status" label="Status" value={status} options={STATUSES} onChange={setStatus} />
      </div>
      <Alert error={list.error ?? error} />
      {list.items?.length === 0 && <Notice>No requests.</Notice>}
      {(list.items ?? []).map((request) => {
        const commentId = `comment-${request.id}`;
        return (
          <article key={request.id} class="card stack" aria-labelledby={`grant-${request.id}`}>
            <h2 id={`grant-${request.id}`}>
              {request.organization.name} <StatusBadge status={label(request.status)} />
            </h2>
            <p>
              {request.requester.name} ({request.requester.email}), {formatDateTime(request.submittedDate)}
            </p>
            <p>{request.description}</p>
            <p class="hint">Repositories: {request.repositories.join(', ')}</p>
            {request.review && (
              <ul class="rules">
                {request.review.reasons.map((reason) => (
                  <li key={reason.rule}>
                    <StatusBadge status={label(reason.outcome)} /> <strong>{reason.rule}</strong>: {reason.message}
                  </li>
                ))}
              </ul>
            )}
            {request.decision && (
              <p>
                Decided {request.decision.status} by {request.decision.decidedBy.displayName}
                {request.decision.comment ? `: ${request.decision.comment}` : ''}
              </p>
            )}
            {request.status === 'manualReview' && (
              <form
                class="stack"
                onSubmit={(event) => {
                  event.preventDefault();
                  const decision = ((event as SubmitEvent).submitter as HTMLButtonElement | null)?.value === 'reject' ? 'reject' : 'approve';
                  void run(async () => {
                    ok(
                      await api.POST('/_apis/pipelines/freegrantrequests/{requestId}/decision', {
                        params: { path: { requestId: request.id }, query: { 'api-version': '7.1' } },
                        body: { decision, comment: comments[request.id] ?? '' },
                      }),
                    );
                    await list.reload();
                  });
                }}
              >
                <div class="field">
                  <label for={commentId}>Comment</label>
                  <textarea
                    id={commentId}
                    class="input"
                    required
                    rows={2}
                    value={comments[request.id] ?? ''}
                    onInput={(event) => setComments({ ...comments, [request.id]: event.currentTarget.value })}
                  />
                </div>
                <div class="form-actions">
                  <button type="submit" class="button button-primary" value="approve" disabled={busy}>
                    Approve
                  </button>
                  <button type="submit" class="button button-danger" value="reject" disabled={busy}>
                    Reject
                  </button>
                </div>
              </form>
            )}
          </article>
        );
      })}
      <MoreButton hasMore={list.hasMore} loading={list.loading} onClick={() => void list.more()} />
    </Page>
  );
}
