import type { AppContext } from '../app-context.js';
import { enqueueNotification, notificationMessage, type NotificationKind } from '../notifications/messages.js';
import type { GrantRequest, PipelineCapacity } from './schemas.js';

/**
 * Messages to the requester named in a grant request. They are sent after the change is committed;
 * a queue failure is logged and does not undo the change (the request's status stays readable through
 * the API either way).
 */

function reasonsText(request: GrantRequest): string {
  const reasons = request.decision?.reasons ?? request.review?.reasons ?? [];
  return reasons.map((reason) => `- ${reason.message}`).join('\n');
}

function message(request: GrantRequest, kind: NotificationKind, subject: string, body: string, extra: Record<string, unknown> = {}) {
  return {
    kind,
    organizationId: request.organizationId,
    organizationName: request.organizationName,
    recipient: { email: request.requesterEmail, displayName: request.requesterName },
    subject,
    body: `Hello ${request.requesterName},\n\n${body}\n\nRequest id: ${request.id}\nOrganization: ${request.organizationName}`.slice(0, 8000),
    data: { requestId: request.id, status: request.status, ...extra },
  };
}

export function submittedMessage(request: GrantRequest) {
  return message(
    request,
    'grantRequest.submitted',
    `Free pipeline grant request received for ${request.organizationName}`,
    'We received your request for free Microsoft-hosted parallel jobs for the public projects of ' +
      `${request.organizationName} (${request.projects.map((project) => project.name).join(', ')}). ` +
      'It is reviewed automatically shortly; you will hear from us when it is decided.',
  );
}

export function reviewedMessage(request: GrantRequest, capacity: PipelineCapacity) {
  switch (request.status) {
    case 'approved':
      return message(
        request,
        'grantRequest.decided',
        `Free pipeline grant approved for ${request.organizationName}`,
        `Your request was approved. Public projects of ${request.organizationName} now have ${capacity.public.parallelJobs} ` +
          `free parallel jobs of up to ${capacity.public.maxMinutesPerJob} minutes each.` +
          (request.decision?.comment ? `\n\nComment: ${request.decision.comment}` : ''),
        { publicParallelJobs: capacity.public.parallelJobs, maxMinutesPerJob: capacity.public.maxMinutesPerJob },
      );
    case 'rejected':
      return message(
        request,
        'grantRequest.decided',
        `Free pipeline grant request rejected for ${request.organizationName}`,
        `Your request was rejected for these reasons:\n${reasonsText(request)}` + (request.decision?.comment ? `\n\nComment: ${request.decision.comment}` : ''),
      );
    default:
      return message(
        request,
        'grantRequest.inReview',
        `Free pipeline grant request for ${request.organizationName} needs a manual review`,
        `Your request is being reviewed by an operator because:\n${reasonsText(request)}\n\nNo action is needed from you.`,
      );
  }
}

export function revokedMessage(request: GrantRequest, capacity: PipelineCapacity) {
  return message(
    request,
    'grant.revoked',
    `Free pipeline grant revoked for ${request.organizationName}`,
    `The free parallel jobs of the public projects of ${request.organizationName} were revoked.` +
      (capacity.grant.comment ? `\n\nComment: ${capacity.grant.comment}` : ''),
    { status: 'revoked' },
  );
}

/** Queues the message; `traceparent`: the trace context of the change it tells of (its audit context's). */
export async function notifyRequester(app: AppContext, content: ReturnType<typeof message>, traceparent?: string): Promise<void> {
  try {
    await enqueueNotification(app, notificationMessage(app, content), traceparent);
  } catch (error) {
    app.log.error('grant notification not sent', {
      kind: content.kind,
      requestId: String(content.data.requestId),
      error: error instanceof Error ? error.name : 'unknown',
    });
  }
}
