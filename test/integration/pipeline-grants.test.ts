import { randomUUID } from 'node:crypto';
import { odata } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditEvent } from '../../shared/audit/events.js';
import { deliverAuditQueue, drainQueueTexts } from '../helpers/queues.js';
import { notificationMessageSchema, type NotificationMessage } from '../../shared/notifications/messages.js';
import { reviewPendingRequests } from '../../shared/pipelines/service.js';
import { QUEUES, TABLES } from '../../shared/storage/names.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client, type ResponseOf } from '../helpers/client.js';

/**
 * Free pipeline grant requests end to end: real HTTP against the local runtime, real Azurite, the
 * grant-review timer run on demand, the manual clock moved instead of waiting.
 */

const START = '2025-03-03T09:00:00.000Z';
const DAY = 24 * 60 * 60 * 1000;
const V = 'api-version=7.1';
const OPERATOR = 'Gatehouse.Operator';
const DESCRIPTION = 'An open-source library for parsing configuration files, built and tested on every pull request by volunteers.';

let env: TestEnvironment;
const api = client(() => env);
const auditEvents: AuditEvent[] = [];
const notifications: NotificationMessage[] = [];

beforeAll(async () => {
  env = await startTestEnvironment({ now: START });
});
afterAll(async () => {
  await env?.stop();
});

// ---- helpers ------------------------------------------------------------------------------------------

/** A grant request and a capacity as the API documents them (web/src/api/schema.d.ts). */
type GrantRequestView = ResponseOf<'pipeline-grant-requests-get'>;
type CapacityView = ResponseOf<'pipeline-capacity-get'>;

const alice = () => env.userToken('alice@contoso.com');
const asAlice = api.asUser('alice@contoso.com');
const asOperator = api.asUser('olivia@ops.gatehouse.example', {
  userId: '0ae7a70e-0000-4000-8000-0000000000a1',
  displayName: 'Olivia Operator',
  roles: [OPERATOR],
});

let counter = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++counter}`;

/** A new organization (alice is its administrator) with public project `lib` and private project `internal`. */
async function newOrganization(prefix = 'grants', publicProject = 'lib'): Promise<string> {
  const name = unique(prefix).slice(0, 50);
  const token = await alice();
  expect((await api.as(token).post(`/_apis/organizations?${V}`, { name })).status).toBe(201);
  expect((await api.as(token).post(`/${name}/_apis/projects?${V}`, { name: publicProject, visibility: 'public' })).status).toBe(201);
  expect((await api.as(token).post(`/${name}/_apis/projects?${V}`, { name: 'internal', visibility: 'private' })).status).toBe(201);
  return name;
}

function requestBody(overrides: Record<string, unknown> = {}) {
  return {
    requesterName: 'Alice Admin',
    requesterEmail: `${unique('requester')}@contoso.com`,
    projects: ['lib'],
    repositories: [`https://github.com/${unique('owner')}/parser`],
    description: DESCRIPTION,
    ...overrides,
  };
}

async function submit(organization: string, body: Record<string, unknown>, token?: string) {
  return api.as(token ?? (await alice())).post(`/${organization}/_apis/pipelines/freegrantrequests?${V}`, body);
}

async function submitOk(organization: string, body: Record<string, unknown> = requestBody()): Promise<GrantRequestView> {
  const response = await submit(organization, body);
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body as GrantRequestView;
}

async function getRequest(organization: string, id: string): Promise<GrantRequestView> {
  const response = await asAlice.get<'pipeline-grant-requests-get'>(`/${organization}/_apis/pipelines/freegrantrequests/${id}?${V}`);
  expect(response.status).toBe(200);
  return response.body;
}

async function capacity(organization: string): Promise<CapacityView> {
  const response = await asAlice.get<'pipeline-capacity-get'>(`/${organization}/_apis/pipelines/capacity?${V}`);
  expect(response.status).toBe(200);
  return response.body;
}

async function runReview(): Promise<void> {
  await env.runtime.invoke('grant-review');
}

async function decide(id: string, decision: 'approve' | 'reject', comment = 'Checked the repositories by hand.') {
  return asOperator.post(`/_apis/pipelines/freegrantrequests/${id}/decision?${V}`, { decision, comment });
}

/** Delivers the audit queue through the writer and moves every notification into the arrays above (schema-validated). */
async function collectQueues(): Promise<void> {
  auditEvents.push(...(await deliverAuditQueue(env)));
  for (const text of await drainQueueTexts(env, QUEUES.notifications)) notifications.push(notificationMessageSchema.parse(JSON.parse(text)));
}

const eventsFor = (requestId: string) => auditEvents.filter((event) => event.data.RequestId === requestId);
const notificationsFor = (requestId: string) => notifications.filter((message) => message.data.requestId === requestId);

// ---- tests ----------------------------------------------------------------------------------------------

describe('pipeline capacity records', () => {
  it('gives every organization private defaults and no free public jobs, also after creating a public project', async () => {
    const organization = await newOrganization('capacity');
    const record = await capacity(organization);
    expect(record.publicProjects).toEqual({ freeParallelJobs: 0, maxMinutesPerJob: 360, monthlyMinutes: null });
    expect(record.privateProjects).toEqual({ freeParallelJobs: 1, maxMinutesPerJob: 60, monthlyMinutes: 1800 });
    expect(record.freeGrant).toMatchObject({ status: 'none', requestId: null });

    const stored = await env.app.storage.table(TABLES.pipelineGrants).getEntity('grants', `c_${await getOrgId(organization)}`);
    expect(stored.grantStatus).toBe('none');

    const demo = await capacity('contoso');
    expect(demo.publicProjects.freeParallelJobs).toBe(0);
  });

  it('shows the grant status on projects: public projects follow the grant, private ones need none', async () => {
    const token = await alice();
    const oss = await api.as(token).get(`/contoso/oss/_apis/pipelines/capacity?${V}`);
    expect(oss.status).toBe(200);
    expect(oss.body).toMatchObject({ project: { name: 'oss', visibility: 'public' }, freeParallelJobs: 0, freeGrant: { status: 'none' } });
    const web = await api.as(token).get(`/contoso/web/_apis/pipelines/capacity?${V}`);
    expect(web.body).toMatchObject({
      project: { name: 'web', visibility: 'private' },
      freeParallelJobs: 1,
      monthlyMinutes: 1800,
      freeGrant: { status: 'notRequired' },
    });
    expect((await api.as(token).get(`/contoso/nope/_apis/pipelines/capacity?${V}`)).body.code).toBe('projectNotFound');
    // The pipelines service reads capacity with its app role; other organizations' members cannot.
    const app = await env.appToken('pipelines');
    expect((await api.as(app).get(`/contoso/_apis/pipelines/capacity?${V}`)).status).toBe(200);
    const erin = await env.userToken('erin@fabrikam.com');
    expect((await api.as(erin).get(`/contoso/oss/_apis/pipelines/capacity?${V}`)).body.code).toBe('organizationNotFound');
  });
});

async function getOrgId(name: string): Promise<string> {
  const organization = await env.app.directory.getOrganizationByName(name);
  if (!organization) throw new Error(`no organization ${name}`);
  return organization.id;
}

describe('review rules, table-driven, decided by the timer in one batch', () => {
  // Phase 1 runs at START + 30 days, so organizations created at START are not young.
  const sharedEmail = `${unique('repeat')}@example.com`;
  const cleanRepository = `https://github.com/${unique('clean')}/parser`;

  interface Case {
    name: string;
    body?: Record<string, unknown>;
    publicProject?: string;
    young?: boolean;
    outcome: 'approved' | 'rejected' | 'manualReview';
    rules: string[];
    message?: RegExp;
  }
  const phase1: Case[] = [
    { name: 'clean request', body: { repositories: [cleanRepository] }, outcome: 'approved', rules: ['allRulesPassed'] },
    {
      name: 'mining words in the description',
      body: { description: `${DESCRIPTION} It also mines Monero with XMRig on spare agents.`, requesterEmail: sharedEmail },
      outcome: 'rejected',
      rules: ['miningTerms'],
      message: /"xmrig", "monero" in the description|"monero", "xmrig" in the description/,
    },
    {
      name: 'mining word in a repository name',
      body: { repositories: [`https://github.com/${unique('acme')}/xmrig-builds`] },
      outcome: 'rejected',
      rules: ['miningTerms'],
      message: /"xmrig" in repository https:\/\/github\.com\//,
    },
    {
      name: 'mining word in a project name',
      publicProject: 'hashrate-dashboard',
      body: { projects: ['hashrate-dashboard'] },
      outcome: 'rejected',
      rules: ['miningTerms'],
      message: /in project hashrate-dashboard/,
    },
    {
      name: 'repository host outside the allow-list',
      body: { repositories: ['https://git.example.org/team/parser'], requesterEmail: sharedEmail },
      outcome: 'rejected',
      rules: ['hostNotAllowed'],
      message: /not allowed: git\.example\.org/,
    },
    { name: 'very young organization', young: true, outcome: 'manualReview', rules: ['youngOrganization'], message: /created 0 day\(s\) ago/ },
    {
      name: 'words that only contain a mining term',
      body: { description: `${DESCRIPTION} The examiner checks minerals data and mining of logs.` },
      outcome: 'approved',
      rules: ['allRulesPassed'],
    },
  ];
  const phase2: Case[] = [
    {
      name: "repository already named by another organization's grant",
      body: { repositories: [cleanRepository.toUpperCase().replace('HTTPS://GITHUB.COM', 'https://www.github.com') + '.git'] },
      outcome: 'manualReview',
      rules: ['repositoryAlreadyGranted'],
    },
    // The same repository spelled with percent-escapes, a branch view and .git: one identity.
    {
      name: 'repository respelled with escapes and a sub-path',
      body: {
        repositories: [
          `${cleanRepository.slice(0, -1)}%${cleanRepository
            .charCodeAt(cleanRepository.length - 1)
            .toString(16)
            .toUpperCase()}.git/tree/main`,
        ],
      },
      outcome: 'manualReview',
      rules: ['repositoryAlreadyGranted'],
    },
    {
      name: 'many requests from one email',
      body: { requesterEmail: sharedEmail.toUpperCase() },
      outcome: 'manualReview',
      rules: ['manyRequestsFromEmail'],
      message: /3 requests .* last 30 days/,
    },
  ];

  const organizations = new Map<string, string>();
  const submitted = new Map<string, GrantRequestView>();

  beforeAll(async () => {
    env.clock.set(START);
    for (const testCase of [...phase1, ...phase2]) {
      if (!testCase.young) organizations.set(testCase.name, await newOrganization('rules', testCase.publicProject));
    }
    env.clock.set(new Date(Date.parse(START) + 30 * DAY));
    for (const testCase of phase1) {
      if (testCase.young) organizations.set(testCase.name, await newOrganization('young', testCase.publicProject));
    }
  });

  it('reviews every pending request of the batch in one run, each with its reasons', async () => {
    for (const testCase of phase1) {
      submitted.set(testCase.name, await submitOk(organizations.get(testCase.name)!, requestBody(testCase.body)));
    }
    for (const view of submitted.values()) expect(view.status).toBe('pending');
    env.clock.advance(60_000);
    const reviewTime = env.clock.now().toISOString();
    await runReview();

    for (const testCase of phase1) {
      const view = await getRequest(organizations.get(testCase.name)!, submitted.get(testCase.name)!.id);
      expect(view.status, testCase.name).toBe(testCase.outcome);
      expect(view.review?.outcome).toBe(testCase.outcome);
      expect(view.review?.reviewedDate).toBe(reviewTime);
      expect(
        view.review?.reasons.map((reason) => reason.rule),
        testCase.name,
      ).toEqual(testCase.rules);
      if (testCase.message) expect(view.review?.reasons[0]?.message, testCase.name).toMatch(testCase.message);
      if (testCase.outcome === 'manualReview') {
        expect(view.decision).toBeNull();
      } else {
        expect(view.decision).toMatchObject({ status: testCase.outcome, decidedDate: reviewTime, decidedBy: { kind: 'system' } });
        expect(view.decision?.reasons.map((reason) => reason.rule)).toEqual(testCase.rules);
      }
    }
    const stillPending = await asOperator.get(`/_apis/pipelines/freegrantrequests?status=pending&${V}`);
    expect(stillPending.body.count).toBe(0);
  });

  it('applies an approval to the capacity record and to the project view', async () => {
    const organization = organizations.get('clean request')!;
    const record = await capacity(organization);
    expect(record.publicProjects).toEqual({ freeParallelJobs: 10, maxMinutesPerJob: 360, monthlyMinutes: null });
    expect(record.freeGrant).toMatchObject({ status: 'approved', requestId: submitted.get('clean request')!.id });
    const project = await asAlice.get(`/${organization}/lib/_apis/pipelines/capacity?${V}`);
    expect(project.body).toMatchObject({ freeParallelJobs: 10, maxMinutesPerJob: 360, freeGrant: { status: 'approved' } });
    const rejected = await capacity(organizations.get('repository host outside the allow-list')!);
    expect(rejected.publicProjects.freeParallelJobs).toBe(0);
    expect(rejected.freeGrant.status).toBe('rejected');
    const inReview = await capacity(organizations.get('very young organization')!);
    expect(inReview.freeGrant.status).toBe('manualReview');
  });

  it('flags repositories already granted elsewhere and repeated requester emails', async () => {
    for (const testCase of phase2) {
      submitted.set(testCase.name, await submitOk(organizations.get(testCase.name)!, requestBody(testCase.body)));
    }
    await runReview();
    for (const testCase of phase2) {
      const view = await getRequest(organizations.get(testCase.name)!, submitted.get(testCase.name)!.id);
      expect(view.status, testCase.name).toBe(testCase.outcome);
      expect(
        view.review?.reasons.map((reason) => reason.rule),
        testCase.name,
      ).toEqual(testCase.rules);
      if (testCase.message) expect(view.review?.reasons[0]?.message).toMatch(testCase.message);
    }
    // Organizations do not learn which organization holds the repository; operators do.
    const granted = submitted.get("repository already named by another organization's grant")!;
    const orgView = await getRequest(organizations.get("repository already named by another organization's grant")!, granted.id);
    expect(orgView.review?.reasons[0]?.details).toBeUndefined();
    const operatorView = await asOperator.get(`/_apis/pipelines/freegrantrequests/${granted.id}?${V}`);
    expect(operatorView.body.review.reasons[0].details.grantedElsewhere[0]).toMatchObject({
      organizationName: organizations.get('clean request'),
      revoked: false,
    });
  });

  it('audits the submission and every decision, and notifies the requester each time', async () => {
    await collectQueues();
    const clean = submitted.get('clean request')!;
    const events = eventsFor(clean.id);
    expect(events.map((event) => event.actionId)).toEqual(['Pipelines.FreeGrantRequested', 'Pipelines.FreeGrantApproved']);
    for (const event of events) {
      expect(event).toMatchObject({
        area: 'Pipelines',
        organizationName: organizations.get('clean request'),
        scopeType: 'organization',
        correlationId: clean.id,
      });
    }
    expect(events[0]).toMatchObject({ category: 'create', actor: { kind: 'user', upn: 'alice@contoso.com' } });
    expect(events[0]?.data).toMatchObject({ Repositories: [cleanRepository], Projects: ['lib'] });
    expect(events[1]).toMatchObject({ category: 'modify', actor: { kind: 'system' }, data: { Status: 'approved', PublicParallelJobs: 10 } });

    const rejected = submitted.get('mining words in the description')!;
    expect(eventsFor(rejected.id).map((event) => event.actionId)).toEqual(['Pipelines.FreeGrantRequested', 'Pipelines.FreeGrantRejected']);
    expect(eventsFor(rejected.id)[1]?.data.Reasons).toEqual([expect.objectContaining({ Rule: 'miningTerms', Outcome: 'rejected' })]);
    const young = submitted.get('very young organization')!;
    expect(eventsFor(young.id).map((event) => event.actionId)).toEqual(['Pipelines.FreeGrantRequested', 'Pipelines.FreeGrantManualReview']);

    expect(notificationsFor(clean.id).map((message) => message.kind)).toEqual(['grantRequest.submitted', 'grantRequest.decided']);
    const approval = notificationsFor(clean.id)[1]!;
    expect(approval).toMatchObject({
      recipient: { email: clean.requester.email, displayName: 'Alice Admin' },
      organizationName: organizations.get('clean request'),
      data: { requestId: clean.id, status: 'approved', publicParallelJobs: 10 },
    });
    expect(approval.subject).toMatch(/approved/);
    expect(approval.body).toMatch(/10 free parallel jobs of up to 360 minutes/);
    const rejection = notificationsFor(rejected.id)[1]!;
    expect(rejection.body).toMatch(/Mentions crypto-mining/);
    expect(notificationsFor(young.id).map((message) => message.kind)).toEqual(['grantRequest.submitted', 'grantRequest.inReview']);
  });
});

describe('one open request per organization', () => {
  it('refuses a second open request, allows a new one after a rejection, and none while a grant is active', async () => {
    env.clock.advance(30 * DAY);
    const organization = await newOrganization('single');
    env.clock.advance(30 * DAY);
    const first = await submitOk(organization, requestBody({ repositories: ['https://git.example.net/acme/parser'] }));
    const second = await submit(organization, requestBody());
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ code: 'openRequestExists', details: { requestId: first.id } });

    await runReview();
    expect((await getRequest(organization, first.id)).status).toBe('rejected');
    env.clock.advance(60_000);
    const third = await submitOk(organization);
    expect((await capacity(organization)).freeGrant).toMatchObject({ status: 'pending', requestId: third.id });
    await runReview();
    expect((await getRequest(organization, third.id)).status).toBe('approved');

    const fourth = await submit(organization, requestBody());
    expect(fourth.status).toBe(409);
    expect(fourth.body.code).toBe('grantAlreadyActive');

    const list = await asAlice.get(`/${organization}/_apis/pipelines/freegrantrequests?${V}`);
    expect(list.body.count).toBe(2);
    expect(list.body.value.map((request: GrantRequestView) => request.id)).toEqual([third.id, first.id]);
  });

  it('lets only one of two simultaneous submissions through', async () => {
    const organization = await newOrganization('race');
    const results = await Promise.all([submit(organization, requestBody()), submit(organization, requestBody())]);
    expect(results.map((result) => result.status).sort()).toEqual([201, 409]);
    const list = await asAlice.get(`/${organization}/_apis/pipelines/freegrantrequests?${V}`);
    expect(list.body.count).toBe(1);
  });
});

describe('operators', () => {
  let organization: string;
  let request: GrantRequestView;

  beforeAll(async () => {
    organization = await newOrganization('manual'); // young: goes to manual review
    request = await submitOk(organization);
  });

  it('cannot decide a request the timer has not reviewed yet', async () => {
    const early = await decide(request.id, 'approve');
    expect(early.status).toBe(409);
    expect(early.body.code).toBe('requestNotInManualReview');
    await runReview();
    expect((await getRequest(organization, request.id)).status).toBe('manualReview');
  });

  it('list requests in manual review across organizations', async () => {
    const listed = await asOperator.get(`/_apis/pipelines/freegrantrequests?${V}`);
    expect(listed.status).toBe(200);
    const ids = listed.body.value.map((item: GrantRequestView) => item.id);
    expect(ids).toContain(request.id);
    expect(listed.body.value.every((item: GrantRequestView) => item.status === 'manualReview')).toBe(true);
    const filtered = await asOperator.get(`/_apis/pipelines/freegrantrequests?status=manualReview&organization=${organization}&${V}`);
    expect(filtered.body.value.map((item: GrantRequestView) => item.id)).toEqual([request.id]);
    const bad = await asOperator.get(`/_apis/pipelines/freegrantrequests?status=maybe&${V}`);
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalidQueryParameter');
  });

  it('approve with a comment exactly once, even when two operators decide at the same moment', async () => {
    env.clock.advance(5 * 60_000);
    const decidedAt = env.clock.now().toISOString();
    const [a, b] = await Promise.all([decide(request.id, 'approve', 'Known maintainers.'), decide(request.id, 'reject', 'Not convinced.')]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([200, 409]);
    const winner = a.status === 200 ? a : b;
    const loser = a.status === 200 ? b : a;
    expect(loser.body.code).toMatch(/^(requestAlreadyDecided|concurrentModification)$/);

    const view = await getRequest(organization, request.id);
    expect(view.status).toBe(winner.body.status);
    expect(view.decision).toMatchObject({ decidedDate: decidedAt, decidedBy: { kind: 'operator', displayName: 'Gatehouse operator' } });
    expect(view.decision?.decidedBy.id).toBeUndefined();
    expect(winner.body.decision.decidedBy).toMatchObject({ kind: 'operator', displayName: 'Olivia Operator' });
    expect(view.review?.reasons.map((reason) => reason.rule)).toEqual(['youngOrganization']);

    const again = await decide(request.id, 'approve');
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('requestAlreadyDecided');

    await collectQueues();
    const decisions = eventsFor(request.id).filter((event) => event.actionId !== 'Pipelines.FreeGrantRequested');
    expect(decisions.map((event) => event.actionId)).toEqual([
      'Pipelines.FreeGrantManualReview',
      winner.body.status === 'approved' ? 'Pipelines.FreeGrantApproved' : 'Pipelines.FreeGrantRejected',
    ]);
    expect(decisions[1]).toMatchObject({ actor: { kind: 'user', displayName: 'Olivia Operator' }, data: { DecidedBy: 'operator' } });
  });

  it('approve and reject: the capacity record follows the decision', async () => {
    const approveOrg = await newOrganization('manual-approve');
    const rejectOrg = await newOrganization('manual-reject');
    const toApprove = await submitOk(approveOrg);
    const toReject = await submitOk(rejectOrg);
    await runReview();

    const approved = await decide(toApprove.id, 'approve', 'Maintainers verified on GitHub.');
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', decision: { comment: 'Maintainers verified on GitHub.' } });
    expect((await capacity(approveOrg)).publicProjects.freeParallelJobs).toBe(10);

    const rejected = await decide(toReject.id, 'reject', 'The repositories are empty.');
    expect(rejected.body).toMatchObject({ status: 'rejected', decision: { reasons: [{ rule: 'operator', outcome: 'rejected' }] } });
    expect(await capacity(rejectOrg)).toMatchObject({ publicProjects: { freeParallelJobs: 0 }, freeGrant: { status: 'rejected' } });

    const noComment = await asOperator.post(`/_apis/pipelines/freegrantrequests/${toReject.id}/decision?${V}`, { decision: 'reject' });
    expect(noComment.status).toBe(400);
    const unknown = await decide(randomUUID(), 'approve');
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('grantRequestNotFound');

    await collectQueues();
    const message = notificationsFor(toReject.id).at(-1)!;
    expect(message).toMatchObject({ kind: 'grantRequest.decided', data: { status: 'rejected' } });
    expect(message.body).toMatch(/The repositories are empty/);
  });

  it('revoke a grant: public jobs drop to 0, the next request goes to manual review', async () => {
    env.clock.advance(30 * DAY);
    const revokeOrg = await newOrganization('revoke');
    env.clock.advance(30 * DAY);
    const granted = await submitOk(revokeOrg);
    await runReview();
    expect((await capacity(revokeOrg)).publicProjects.freeParallelJobs).toBe(10);

    const revoked = await asOperator.post(`/_apis/pipelines/freegrants/${revokeOrg}/revoke?${V}`, { comment: 'Jobs were used for mining.' });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({
      publicProjects: { freeParallelJobs: 0 },
      freeGrant: { status: 'revoked', requestId: granted.id, comment: 'Jobs were used for mining.' },
    });
    expect((await capacity(revokeOrg)).freeGrant.status).toBe('revoked');
    const project = await asAlice.get(`/${revokeOrg}/lib/_apis/pipelines/capacity?${V}`);
    expect(project.body).toMatchObject({ freeParallelJobs: 0, freeGrant: { status: 'revoked' } });

    const twice = await asOperator.post(`/_apis/pipelines/freegrants/${revokeOrg}/revoke?${V}`, { comment: 'again' });
    expect(twice.status).toBe(409);
    expect(twice.body.code).toBe('noActiveGrant');
    const missing = await asOperator.post(`/_apis/pipelines/freegrants/no-such-org/revoke?${V}`, { comment: 'x' });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('organizationNotFound');

    const next = await submitOk(revokeOrg, requestBody());
    await runReview();
    const view = await getRequest(revokeOrg, next.id);
    expect(view.status).toBe('manualReview');
    expect(view.review?.reasons.map((reason) => reason.rule)).toEqual(['previouslyRevoked']);

    await collectQueues();
    const revocation = eventsFor(granted.id).find((event) => event.actionId === 'Pipelines.FreeGrantRevoked');
    expect(revocation).toMatchObject({
      category: 'remove',
      actor: { kind: 'user', displayName: 'Olivia Operator' },
      data: { Comment: 'Jobs were used for mining.', PreviousPublicParallelJobs: 10 },
    });
    expect(notificationsFor(granted.id).map((message) => message.kind)).toContain('grant.revoked');
  });

  it('two timer runs at once decide a request once', async () => {
    env.clock.advance(30 * DAY);
    const organization = await newOrganization('timers');
    env.clock.advance(30 * DAY);
    const pending = await submitOk(organization);
    await Promise.all([runReview(), runReview(), runReview()]);
    expect((await getRequest(organization, pending.id)).status).toBe('approved');
    await collectQueues();
    expect(eventsFor(pending.id).map((event) => event.actionId)).toEqual(['Pipelines.FreeGrantRequested', 'Pipelines.FreeGrantApproved']);
    expect(notificationsFor(pending.id)).toHaveLength(2);
  });
});

describe('who may request and review grants', () => {
  it('lets Project Collection Administrators and public project administrators request; not others', async () => {
    const carol = await env.userToken('carol@contoso.com');
    expect((await submit('contoso', requestBody({ projects: ['oss'] }), carol)).body.code).toBe('accessDenied');
    expect((await api.as(carol).get(`/contoso/_apis/pipelines/freegrantrequests?${V}`)).status).toBe(403);
    const bob = await env.userToken('bob@contoso.com');
    const bobs = await submit('contoso', requestBody({ projects: ['oss'] }), bob);
    expect(bobs.status).toBe(403);
    expect(bobs.body.code).toBe('accessDenied');
    const erin = await env.userToken('erin@fabrikam.com');
    const erins = await submit('contoso', requestBody({ projects: ['oss'] }), erin);
    expect(erins.status).toBe(404);
    expect(erins.body.code).toBe('organizationNotFound');
    const app = await env.appToken('pipelines');
    const apps = await submit('contoso', requestBody({ projects: ['oss'] }), app);
    expect(apps.status).toBe(403);
    expect(apps.body.code).toBe('callerTypeNotAllowed');

    // dave becomes administrator of the public project oss (and stays contributor of api)
    const token = await alice();
    expect((await api.as(token).post(`/contoso/_apis/projects?${V}`, { name: 'docs', visibility: 'public' })).status).toBe(201);
    const patch = await api.as(token).patch(`/contoso/_apis/userentitlements/da7e0000-0000-4000-8000-00000000000d?api-version=7.1`, {
      projectEntitlements: [
        { projectRef: { id: '1b2c3d4e-0000-4000-8000-000000000003' }, group: { groupType: 'projectAdministrator' } },
        { projectRef: { id: '1b2c3d4e-0000-4000-8000-000000000002' }, group: { groupType: 'projectContributor' } },
      ],
    });
    expect(patch.status).toBe(200);
    const dave = await env.userToken('dave@contoso.com');
    const notAdmin = await submit('contoso', requestBody({ projects: ['oss', 'docs'] }), dave);
    expect(notAdmin.status).toBe(403);
    const privateProject = await submit('contoso', requestBody({ projects: ['web'] }), dave);
    expect(privateProject.status).toBe(400);
    expect(privateProject.body.code).toBe('projectNotPublic');
    const ok = await submit('contoso', requestBody({ projects: ['oss'], requesterName: 'Dave Developer' }), dave);
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ status: 'pending', submittedBy: { displayName: 'Dave Developer' }, projects: [{ name: 'oss' }] });
    expect((await api.as(dave).get(`/contoso/_apis/pipelines/freegrantrequests?${V}`)).body.count).toBe(1);
    expect((await capacity('contoso')).freeGrant.status).toBe('pending');
  });

  it('keeps operator routes to Gatehouse.Operator: not organization administrators, not apps without the role', async () => {
    const path = `/_apis/pipelines/freegrantrequests?${V}`;
    const aliceOnly = await asAlice.get(path);
    expect(aliceOnly.status).toBe(403);
    expect(aliceOnly.body.code).toBe('missingRole');
    const carol = await api.asUser('carol@contoso.com').get(path);
    expect(carol.body.code).toBe('missingRole');
    const erin = await api.asUser('erin@fabrikam.com').get(path);
    expect(erin.body.code).toBe('missingRole');
    const appWithout = await api.as(await env.appToken('pipelines')).get(path);
    expect(appWithout.status).toBe(403);
    expect(appWithout.body.code).toBe('missingAppRole');
    const revoke = await api.as(await env.appToken('gitserver')).post(`/_apis/pipelines/freegrants/contoso/revoke?${V}`, { comment: 'x' });
    expect(revoke.body.code).toBe('missingAppRole');
    const decision = await asAlice.post(`/_apis/pipelines/freegrantrequests/${randomUUID()}/decision?${V}`, { decision: 'approve', comment: 'x' });
    expect(decision.body.code).toBe('missingRole');

    const appWith = await api.as(await env.appToken('pipelines', { roles: [OPERATOR] })).get(path);
    expect(appWith.status).toBe(200);
    const userWith = await api.asUser('erin@fabrikam.com', { roles: [OPERATOR] }).get(path);
    expect(userWith.status).toBe(200);
    expect((await asOperator.get(path)).status).toBe(200);
  });

  it('shows Project-Scoped Users only their own projects’ capacity while the organization limits them', async () => {
    const token = await alice();
    const settings = `/contoso/_apis/organization/settings?${V}`;
    expect((await api.as(token).patch(settings, { limitUserVisibilityToProjects: true })).status).toBe(200);
    try {
      const carol = await env.userToken('carol@contoso.com');
      expect((await api.as(carol).get(`/contoso/web/_apis/pipelines/capacity?${V}`)).status).toBe(200);
      expect((await api.as(carol).get(`/contoso/oss/_apis/pipelines/capacity?${V}`)).body.code).toBe('projectNotFound');
      expect((await api.as(carol).get(`/contoso/_apis/pipelines/capacity?${V}`)).body.code).toBe('projectScopedUserRestricted');
      expect((await submit('contoso', requestBody({ projects: ['oss'] }), carol)).body.code).toBe('projectScopedUserRestricted');
    } finally {
      expect((await asAlice.patch(settings, { limitUserVisibilityToProjects: false })).status).toBe(200);
    }
  });
});

describe('bad input', () => {
  let organization: string;
  beforeAll(async () => {
    organization = await newOrganization('badinput');
  });

  const tooMany = Array.from({ length: 11 }, (_, i) => `https://github.com/acme/repo-${i}`);
  const cases: { name: string; body: Record<string, unknown>; code: string; status?: number }[] = [
    { name: 'http link', body: { repositories: ['http://github.com/acme/parser'] }, code: 'invalidRepositoryLink' },
    { name: 'malformed link', body: { repositories: ['github.com/acme/parser'] }, code: 'invalidRepositoryLink' },
    { name: 'not a URL at all', body: { repositories: ['https://'] }, code: 'invalidRepositoryLink' },
    { name: 'private IPv4 address', body: { repositories: ['https://10.1.2.3/acme/parser'] }, code: 'invalidRepositoryLink' },
    { name: 'LAN address', body: { repositories: ['https://192.168.0.10/acme/parser'] }, code: 'invalidRepositoryLink' },
    { name: 'decimal loopback address', body: { repositories: ['https://2130706433/acme/parser'] }, code: 'invalidRepositoryLink' },
    { name: 'IPv6 literal', body: { repositories: ['https://[::1]/acme/parser'] }, code: 'invalidRepositoryLink' },
    { name: 'localhost', body: { repositories: ['https://localhost/acme/parser'] }, code: 'invalidRepositoryLink' },
    { name: 'internal host name', body: { repositories: ['https://git.corp.internal/acme/parser'] }, code: 'invalidRepositoryLink' },
    { name: 'single-label host', body: { repositories: ['https://gitserver/acme/parser'] }, code: 'invalidRepositoryLink' },
    { name: 'credentials in the URL', body: { repositories: ['https://user:secret@github.com/acme/parser'] }, code: 'invalidRepositoryLink' },
    { name: 'a port', body: { repositories: ['https://github.com:8443/acme/parser'] }, code: 'invalidRepositoryLink' },
    { name: 'no repository path', body: { repositories: ['https://github.com/acme'] }, code: 'invalidRepositoryLink' },
    { name: 'more than 10 links', body: { repositories: tooMany }, code: 'invalidRepositoryLink' },
    { name: 'no links', body: { repositories: [] }, code: 'invalidRepositoryLink' },
    {
      name: 'the same repository twice',
      body: { repositories: ['https://github.com/acme/parser', 'https://GitHub.com/acme/parser.git'] },
      code: 'invalidRepositoryLink',
    },
    { name: 'a link that is not a string', body: { repositories: [42] }, code: 'invalidRepositoryLink' },
    { name: 'short description', body: { description: 'x'.repeat(49) }, code: 'invalidDescription' },
    { name: 'short description padded with spaces', body: { description: `${'x'.repeat(40)}${' '.repeat(20)}` }, code: 'invalidDescription' },
    { name: 'huge description', body: { description: 'x'.repeat(4001) }, code: 'invalidDescription' },
    { name: 'invalid email', body: { requesterEmail: 'alice.contoso.com' }, code: 'invalidRequesterEmail' },
    { name: 'email with a display name', body: { requesterEmail: 'Alice <alice@contoso.com>' }, code: 'invalidRequesterEmail' },
    { name: 'empty requester name', body: { requesterName: '   ' }, code: 'invalidRequesterName' },
    { name: 'no projects', body: { projects: [] }, code: 'invalidProjects' },
    { name: 'unknown field', body: { parallelJobs: 25 }, code: 'invalidRequestBody' },
    { name: 'unknown project', body: { projects: ['nope'] }, code: 'projectNotFound' },
    { name: 'private project', body: { projects: ['internal'] }, code: 'projectNotPublic' },
  ];

  it.each(cases)('$name → 400 $code, nothing stored', async ({ body, code, status }) => {
    const response = await submit(organization, requestBody(body));
    expect(response.status).toBe(status ?? 400);
    expect(response.body.code).toBe(code);
    expect(response.body.message).toBeTruthy();
  });

  it('refuses bodies that are not JSON and missing api-versions', async () => {
    const token = await alice();
    const text = await api.as(token).post(`/${organization}/_apis/pipelines/freegrantrequests?${V}`, '{"requesterName":');
    expect(text.status).toBe(400);
    expect(text.body.code).toBe('invalidJson');
    const noVersion = await api.as(token).post(`/${organization}/_apis/pipelines/freegrantrequests`, requestBody());
    expect(noVersion.body.code).toBe('apiVersionRequired');
  });

  it('stored nothing for any of them', async () => {
    const organizationId = await getOrgId(organization);
    const list = await asAlice.get(`/${organization}/_apis/pipelines/freegrantrequests?${V}`);
    expect(list.body.count).toBe(0);
    const rows = [];
    for await (const row of env.app.storage.table(TABLES.pipelineGrants).listEntities({
      queryOptions: { filter: odata`PartitionKey eq 'grants' and organizationId eq ${organizationId}` },
    })) {
      rows.push(row.rowKey);
    }
    expect(rows).toEqual([`c_${organizationId}`]);
    expect((await capacity(organization)).freeGrant.status).toBe('none');
    await collectQueues();
    // Only the organization's own creation (and its project's) is in its trail: no grant event.
    expect(auditEvents.some((event) => event.organizationId === organizationId && event.area === 'Pipelines')).toBe(false);
    expect(notifications.some((message) => message.organizationId === organizationId)).toBe(false);
  });
});

describe('the clock', () => {
  it('ages organizations and the email window with the injected clock, not the wall clock', async () => {
    const email = `${unique('window')}@example.com`;
    const organizations = [await newOrganization('clock'), await newOrganization('clock'), await newOrganization('clock')];
    const young = await submitOk(organizations[0]!, requestBody({ requesterEmail: email }));
    await runReview();
    expect((await getRequest(organizations[0]!, young.id)).review?.reasons.map((reason) => reason.rule)).toEqual(['youngOrganization']);

    // 40 days later the organizations are old enough and the first request left the 30-day window.
    env.clock.advance(40 * DAY);
    const second = await submitOk(organizations[1]!, requestBody({ requesterEmail: email }));
    const third = await submitOk(organizations[2]!, requestBody({ requesterEmail: email }));
    expect(third.submittedDate).toBe(env.clock.now().toISOString());
    await runReview();
    expect((await getRequest(organizations[1]!, second.id)).status).toBe('approved');
    expect((await getRequest(organizations[2]!, third.id)).status).toBe('approved');
  });
});

describe('batch size', () => {
  it('reviews at most GRANT_REVIEW_BATCH_SIZE requests per run, oldest first; the rest wait for the next run', async () => {
    await runReview(); // nothing else pending
    const organizations = [await newOrganization('batch'), await newOrganization('batch'), await newOrganization('batch')];
    const requests: GrantRequestView[] = [];
    for (const organization of organizations) {
      requests.push(await submitOk(organization));
      env.clock.advance(1000);
    }
    const small = { ...env.app, config: { ...env.app.config, pipelines: { ...env.app.config.pipelines, reviewBatchSize: 2 } } };
    const result = await reviewPendingRequests(small);
    expect(result).toMatchObject({ reviewed: 2, manualReview: 2, failed: 0 });
    const statuses = await Promise.all(requests.map((request, i) => getRequest(organizations[i]!, request.id)));
    expect(statuses.map((view) => view.status)).toEqual(['manualReview', 'manualReview', 'pending']);
    await runReview();
    expect((await getRequest(organizations[2]!, requests[2]!.id)).status).toBe('manualReview');
  });
});
