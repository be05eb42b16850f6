import { useState } from 'preact/hooks';
import { api, ok, download } from '../api';
import { formatDateTime } from '../format';
import { Alert, MoreButton, Notice, Page, useAction, usePaged, Table } from '../ui/kit';
import { useSession } from '../session';

/** The fields of an audit entry this page shows (the query's response is documented without a schema). */
interface AuditEntry {
  id: string;
  timestamp: string;
  actorDisplayName: string;
  actorUPN?: string;
  ipAddress?: string;
  actionId: string;
  area: string;
  categoryDisplayName: string;
  details: string;
  projectName?: string;
}

interface Verification {
  intact: boolean;
  daysChecked: number;
  eventsChecked: number;
  firstBrokenLink: { day: string; sequence: number | null; message: string } | null;
  checkpointCoverage: { available: boolean; eventsCovered: number; eventsNotCovered: number; latestCheckpointTime: string | null };
}

/** What verify found, in words: the broken link, or what the checkpoints outside the table cover. */
function verificationText(verification: Verification): string {
  const checked = `${verification.eventsChecked} events over ${verification.daysChecked} day(s) checked`;
  const broken = verification.firstBrokenLink;
  if (broken) {
    const at = `day ${broken.day}${broken.sequence === null ? '' : `, event ${broken.sequence}`}`;
    return `The audit log has been tampered with: ${checked}; ${at}: ${broken.message}`;
  }
  const coverage = verification.checkpointCoverage;
  const anchored = coverage.available
    ? `${coverage.eventsCovered} proven by signed checkpoints (latest ${formatDateTime(coverage.latestCheckpointTime)}), ${coverage.eventsNotCovered} by the hash chain alone`
    : 'no checkpoint store is configured, so only the hash chains were checked';
  return `The audit log is intact: ${checked}; ${anchored}.`;
}

const VERSION = '7.1-preview.1' as const;
const dayStart = (value: string) => (value ? new Date(`${value}T00:00:00`).toISOString() : undefined);
const dayEnd = (value: string) => (value ? new Date(`${value}T23:59:59.999`).toISOString() : undefined);

export function AuditPage({ organization }: { organization: string }) {
  const path = { organization };
  const { capabilities } = useSession();
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [area, setArea] = useState('');
  const [actor, setActor] = useState('');
  const [applied, setApplied] = useState({ from: '', to: '', area: '', actor: '' });
  const [verification, setVerification] = useState<Verification>();
  const [busy, error, run] = useAction();
  const range = { ...(dayStart(applied.from) ? { startTime: dayStart(applied.from) } : {}), ...(dayEnd(applied.to) ? { endTime: dayEnd(applied.to) } : {}) };
  const list = usePaged<AuditEntry>(
    async (continuationToken) => {
      const outcome = await api.GET('/{organization}/_apis/audit/auditlog', {
        params: {
          path,
          query: {
            'api-version': VERSION,
            batchSize: '50',
            ...range,
            ...(applied.area ? { area: applied.area } : {}),
            ...(applied.actor ? { actor: applied.actor } : {}),
            ...(continuationToken ? { continuationToken } : {}),
          },
        },
      });
      const page = ok<unknown>(outcome) as { decoratedAuditLogEntries: AuditEntry[]; continuationToken?: string; hasMore: boolean };
      return { items: page.decoratedAuditLogEntries, continuation: page.hasMore ? page.continuationToken : undefined };
    },
    [organization, applied],
  );
  const downloadLog = (format: 'csv' | 'json') =>
    run(async () => {
      const query = new URLSearchParams({ 'api-version': VERSION, format, ...range });
      await download(`/${encodeURIComponent(organization)}/_apis/audit/downloadlog?${query}`, `${organization}-audit.${format}`);
    });
  return (
    <Page
      title="Auditing"
      description="Who did what, when and from where in this organization."
      actions={
        <>
          <button type="button" class="button" disabled={busy} onClick={() => void downloadLog('csv')}>
            Download CSV
          </button>
          <button type="button" class="button" disabled={busy} onClick={() => void downloadLog('json')}>
            Download JSON
          </button>
          {capabilities?.administrator && (
            <button
              type="button"
              class="button"
              disabled={busy}
              onClick={() =>
                void run(async () => {
                  const outcome = await api.GET('/{organization}/_apis/audit/verify', { params: { path, query: { 'api-version': VERSION, ...range } } });
                  setVerification(ok(outcome));
                })
              }
            >
              Verify
            </button>
          )}
        </>
      }
    >
      <form
        class="toolbar"
        onSubmit={(event) => {
          event.preventDefault();
          setApplied({ from, to, area: area.trim(), actor: actor.trim() });
        }}
      >
        <div class="field-inline">
          <label for="audit-from">From</label>
          <input id="audit-from" class="input" type="date" value={from} onInput={(event) => setFrom(event.currentTarget.value)} />
        </div>
        <div class="field-inline">
          <label for="audit-to">To</label>
          <input id="audit-to" class="input" type="date" value={to} onInput={(event) => setTo(event.currentTarget.value)} />
        </div>
        <div class="field-inline">
          <label for="audit-area">Area</label>
          <input id="audit-area" class="input input-narrow" value={area} placeholder="Token" onInput={(event) => setArea(event.currentTarget.value)} />
        </div>
        <div class="field-inline">
          <label for="audit-actor">Actor</label>
          <input id="audit-actor" class="input" value={actor} placeholder="alice@contoso.com" onInput={(event) => setActor(event.currentTarget.value)} />
        </div>
        <button type="submit" class="button">
          Apply filters
        </button>
      </form>
      <Alert error={list.error ?? error} />
      {verification && (
        <p class={verification.intact ? 'message message-info' : 'message message-error'} role="status">
          {verificationText(verification)}
        </p>
      )}
      {list.items?.length === 0 && <Notice>No audit events in this range.</Notice>}
      {list.items && list.items.length > 0 && (
        <Table caption="Audit events" columns={['Date', 'Actor', 'IP address', 'Area', 'Action', 'Details']}>
          {list.items.map((entry) => (
            <tr key={entry.id}>
              <td>{formatDateTime(entry.timestamp)}</td>
              <td>{entry.actorDisplayName}</td>
              <td>{entry.ipAddress ?? '—'}</td>
              <td>{entry.area}</td>
              <td class="mono">{entry.actionId}</td>
              <td>{entry.details}</td>
            </tr>
          ))}
        </Table>
      )}
      <MoreButton hasMore={list.hasMore} loading={list.loading} onClick={() => void list.more()} />
    </Page>
  );
}
