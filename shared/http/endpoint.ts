import { randomUUID } from 'node:crypto';
import type { HttpMethod, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { getAppContext, type AppContext } from '../app-context.js';
import type { AppConfig } from '../config.js';
import { authenticateJwt, type Caller, type PatCaller, type ServicePrincipalCaller, type UserCaller } from '../auth/caller.js';
import { auditContextOf } from '../audit/context.js';
import type { CallerScope } from '../request-scope.js';
import { resolveOrganizationAccess, type OrganizationAccess } from '../directory/access.js';
import type { Organization } from '../directory/repository.js';
import type { HttpDeclaration } from '../runtime/declarations.js';
import { enforceRateLimit, guardAuthentication } from './rate-limit.js';
import { AppError, badRequest, forbidden, renderErrorBody, toAppError, unauthorized, type ErrorEnvelope } from './errors.js';
import { authenticatePat, patCredentialOf, patHasAnyScope, patRefused, type PatCredential } from '../tokens/authenticate.js';
import { hasAnyScope } from '../tokens/scopes.js';
import { checkApiVersion, requestedApiVersion, type ApiVersionRange } from './api-versions.js';
import type { ResourceLocation } from './locations.js';
import { assertJsonDepth, unknownFieldError } from './body-rules.js';
import { requestOriginOf, type RequestOrigin } from './origin.js';
import { wellFormedDeep } from '../text.js';
import { traceparentOf } from '../telemetry/telemetry.js';

/**
 * Who may call an endpoint. `users` and `apps` list the caller kinds allowed, with the delegated
 * scopes (any of) or app roles (any of) each must hold; `organization` makes the endpoint
 * organization-scoped, answering 404 to non-members exactly as for a missing organization.
 */
/** At least one delegated scope: a route that user tokens can call always names what it needs. */
export type DelegatedScopes = readonly [string, ...string[]];

export type Access =
  | { readonly anonymous: true }
  | {
      readonly anonymous?: false;
      /**
       * User tokens holding any of `scopes` (a higher scope of a family includes the lower ones, as for
       * PATs). `roles`, when given, also requires one of these app roles in the user's `roles` claim.
       */
      readonly users?: { readonly scopes: DelegatedScopes; readonly roles?: readonly string[] };
      readonly apps?: { readonly roles: readonly string[] };
      /**
       * Personal access tokens (Basic or Bearer), through shared/tokens/authenticate.ts: any of the
       * scopes (empty = any PAT; `app_token` grants all; higher scopes include lower ones). On
       * organization routes a PAT must target that organization (or be global). Routes without
       * `pats` never accept a PAT (the PAT lifecycle routes among them).
       */
      readonly pats?: {
        readonly scopes: readonly string[];
        /** `report`: a PAT that breaks a policy is still let in, its violations on the caller (self lookup, self rotation). */
        readonly policies?: 'report';
      };
      readonly organization?: 'member' | 'administrator';
      /**
       * While an organization limits Project-Scoped Users to their projects, its organization-level
       * routes answer them 403. Routes that filter what they return by the caller's projects (or
       * that only touch the caller's own things) opt in with 'allowed'.
       */
      readonly projectScopedUsers?: 'allowed';
    };

export interface ResponseDoc {
  readonly description: string;
  readonly schema?: z.ZodType;
  readonly contentType?: string;
}

export interface EndpointDoc {
  readonly route: string;
  readonly methods: readonly HttpMethod[];
  readonly summary: string;
  readonly tags: readonly string[];
  readonly apiVersions: ApiVersionRange | undefined;
  readonly location: ResourceLocation | undefined;
  readonly access: Access;
  readonly params: z.ZodType | undefined;
  readonly query: z.ZodType | undefined;
  readonly body: z.ZodType | undefined;
  readonly responses: Readonly<Record<number, ResponseDoc>>;
}

/** What every handler gets: the request and its parsed, validated parts. */
export interface RequestInput<P, Q, B> {
  readonly request: HttpRequest;
  readonly context: InvocationContext;
  readonly app: AppContext;
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly activityId: string;
  readonly origin: RequestOrigin;
}

type Authenticated = Exclude<Access, { readonly anonymous: true }>;

/** The callers a declaration admits: users (Entra tokens) for `users`, service principals for `apps`, PATs for `pats`. */
export type CallerOf<A extends Access> =
  | (A extends { readonly users: object } ? UserCaller : never)
  | (A extends { readonly apps: object } ? ServicePrincipalCaller : never)
  | (A extends { readonly pats: object } ? PatCaller : never);

/**
 * The caller's standing in the organization of an organization route, as far as the declaration
 * settles it: an administrator on `organization: 'administrator'` routes, never a restricted
 * Project-Scoped User where the route does not allow them.
 */
export type OrganizationAccessOf<A extends Access> = OrganizationAccess &
  (A extends { readonly organization: 'administrator' } ? { readonly isAdministrator: true } : unknown) &
  (A extends { readonly projectScopedUsers: 'allowed' } ? unknown : { readonly isProjectScoped: false });

/**
 * What the `access` declaration adds to the input: nothing on anonymous routes; otherwise the caller
 * (of the kinds admitted) and its audit context, and on organization routes the caller's standing
 * in the organization. An authenticated handler's input is thus a CallerScope (an OrganizationScope
 * on organization routes) that it hands to services as it is.
 */
export type AccessInput<A extends Access> = A extends { readonly anonymous: true }
  ? unknown
  : CallerScope<CallerOf<A>> & (A extends { readonly organization: 'member' | 'administrator' } ? { readonly organization: OrganizationAccessOf<A> } : unknown);

export type EndpointInput<P, Q, B, A extends Access> = RequestInput<P, Q, B> & AccessInput<A>;

export interface EndpointResult {
  readonly status?: number;
  /** Serialised as JSON unless `text` is given. */
  readonly body?: unknown;
  readonly text?: string;
  /**
   * A streamed body (e.g. an audit log download): sent chunk by chunk, never buffered whole. The
   * host streams it because functions/index.ts enables HTTP streams; the local runtime always does.
   */
  readonly stream?: ReadableStream<Uint8Array>;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
}

export interface EndpointSpec<P, Q, B, A extends Access> {
  readonly name: string;
  readonly route: string;
  readonly methods: HttpMethod[];
  readonly summary: string;
  readonly tags?: readonly string[];
  /** Required for `_apis` routes: the `api-version` range served (query string or Accept header). */
  readonly apiVersions?: ApiVersionRange;
  /** The Azure DevOps resource location this route serves; `OPTIONS _apis` discovery lists it. */
  readonly location?: ResourceLocation;
  /** Who may call; the handler's input follows it (see AccessInput). */
  readonly access: A;
  readonly params?: z.ZodType<P>;
  readonly query?: z.ZodType<Q>;
  readonly body?: z.ZodType<B>;
  readonly responses: Readonly<Record<number, ResponseDoc>>;
  /** How AppErrors are rendered (default `standard`); see ErrorEnvelope. */
  readonly errorEnvelope?: ErrorEnvelope;
  /**
   * Gives validation failures of a query parameter or body field a specific error code (for example a
   * SessionTokenError) instead of `invalidQueryParameter` / `invalidRequestBody`.
   */
  readonly validationCode?: (where: 'query' | 'body', issue: z.core.$ZodIssue) => string | undefined;
  /**
   * The request body limit when it differs from `MAX_REQUEST_BODY_BYTES`; honoured by readJsonBody and
   * by the local runtime (the declaration exposes it).
   */
  readonly maxBodyBytes?: (config: AppConfig) => number;
  /** `json-or-form` also accepts `application/x-www-form-urlencoded` bodies (read as an object of strings). */
  readonly bodyFormat?: 'json' | 'json-or-form';
  readonly handler: (input: EndpointInput<P, Q, B, A>) => Promise<EndpointResult>;
}

const SECURITY_HEADERS: Record<string, string> = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
};

const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

export function endpoint<P = Record<string, never>, Q = Record<string, never>, B = undefined, const A extends Access = Access>(
  spec: EndpointSpec<P, Q, B, A>,
): HttpDeclaration {
  const { maxBodyBytes } = spec;
  const doc: EndpointDoc = {
    route: spec.route,
    methods: spec.methods,
    summary: spec.summary,
    tags: spec.tags ?? [],
    apiVersions: spec.apiVersions,
    location: spec.location,
    access: spec.access,
    params: spec.params,
    query: spec.query,
    body: spec.body,
    responses: spec.responses,
  };
  return {
    kind: 'http',
    name: spec.name,
    options: { route: spec.route, methods: spec.methods, authLevel: 'anonymous' },
    doc,
    ...(maxBodyBytes ? { maxBodyBytes: () => maxBodyBytes(getAppContext().config) } : {}),
    handler: async (request, context) => {
      const activityId = randomUUID();
      let app: AppContext | undefined;
      try {
        app = getAppContext();
        const result = await invoke(spec, request, context, app, activityId);
        return toResponse(result, activityId);
      } catch (error) {
        const appError = toAppError(error);
        if (appError.status >= 500) {
          const fields = { invocationId: context.invocationId, activityId, function: spec.name, error: describe(error) };
          if (app) app.log.error('request failed', fields);
          else context.error('request failed', fields);
        }
        return errorResponse(appError, activityId, spec.errorEnvelope, apiVersionOf(request));
      }
    },
  };
}

async function invoke<P, Q, B, A extends Access>(
  spec: EndpointSpec<P, Q, B, A>,
  request: HttpRequest,
  context: InvocationContext,
  app: AppContext,
  activityId: string,
): Promise<EndpointResult> {
  const query = readQuery(request);
  if (spec.apiVersions) {
    const apiVersion = apiVersionOf(request);
    if (apiVersion !== undefined || !spec.apiVersions.optional) checkApiVersion(apiVersion, spec.apiVersions);
  }

  const origin = requestOriginOf(request, app.config);
  const admitted = spec.access.anonymous ? undefined : await admit(spec.access, request, { app, origin, activityId, traceparent: traceparentOf(context) });
  enforceRateLimit(app, request, admitted?.caller);
  const params = parseOrThrow(spec.params, request.params, 'invalidRouteValue') as P;
  const parsedQuery = parseOrThrow(spec.query, query, 'invalidQueryParameter', (issue) => spec.validationCode?.('query', issue)) as Q;
  const body = spec.body
    ? await readJsonBody(
        request,
        spec.body,
        spec.maxBodyBytes?.(app.config) ?? app.config.maxRequestBodyBytes,
        (issue) => spec.validationCode?.('body', issue),
        spec.bodyFormat === 'json-or-form',
      )
    : undefined;
  const input: RequestInput<P, Q, B> = { request, context, app, params, query: parsedQuery, body: body as B, activityId, origin };
  // `admit` enforced what AccessInput<A> promises: the caller kinds, the organization and standing.
  return spec.handler({ ...input, ...admitted } as EndpointInput<P, Q, B, A>);
}

/** A request as it arrives, before its caller is admitted: the app, where it came from, its activity id and trace context. */
interface Arrival {
  readonly app: AppContext;
  readonly origin: RequestOrigin;
  readonly activityId: string;
  readonly traceparent: string | undefined;
}

/**
 * Authenticates the caller, checks its kind against the declaration and, on organization routes,
 * resolves its standing there: a non-member gets the same 404 as a missing organization.
 */
async function admit(access: Authenticated, request: HttpRequest, arrival: Arrival): Promise<CallerScope & { organization?: OrganizationAccess }> {
  const { app, origin, activityId, traceparent } = arrival;
  const caller = await authenticate(access, request, arrival);
  authorizeCallerKind(access, caller);
  const scope = { app, caller, audit: auditContextOf(caller, origin, activityId, traceparent) };
  if (!access.organization) return scope;
  const organization = await resolveOrganizationAccess(app, request.params.organization ?? '', caller);
  // Before the administrator check, so a restricted person learns only that she is restricted.
  if (organization.isProjectScoped && access.projectScopedUsers !== 'allowed') {
    throw forbidden('projectScopedUserRestricted', 'This organization limits your visibility to the projects you belong to.');
  }
  if (access.organization === 'administrator' && !organization.isAdministrator) {
    throw forbidden('accessDenied', 'Only Project Collection Administrators can do this.');
  }
  return { ...scope, organization };
}

function readQuery(request: HttpRequest): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [key, value] of request.query.entries()) {
    if (Object.hasOwn(query, key)) throw badRequest('duplicateQueryParameter', `The query parameter '${key}' is given more than once.`);
    query[key] = value;
  }
  return query;
}

/** The query's `api-version`, else the Accept header's (how Azure DevOps' clients send it). */
function apiVersionOf(request: HttpRequest): string | undefined {
  return requestedApiVersion(request.query.get('api-version'), request.headers.get('accept'));
}

type IssueCode = (issue: z.core.$ZodIssue) => string | undefined;

function parseOrThrow(schema: z.ZodType | undefined, input: unknown, code: string, issueCode?: IssueCode): unknown {
  if (!schema) return {};
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw validationError(code, parsed.error, issueCode);
}

/** A 400 listing every issue; `issueCode` may name a more specific code from the first issue. */
export function validationError(code: string, error: z.ZodError, issueCode?: IssueCode): AppError {
  const details = error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
  const message = details.map((detail) => (detail.path ? `${detail.path}: ${detail.message}` : detail.message)).join('; ');
  const first = error.issues[0];
  return badRequest((first && issueCode?.(first)) ?? code, message, details);
}

/**
 * A `gat_` bearer value or a Basic credential goes to the PAT authenticator when the route accepts
 * PATs (format and checksum first; on organization routes the PAT must target the organization);
 * everything else goes to the JWT verifier, so a PAT on any other route is the uniform 401.
 */
async function authenticate(access: Authenticated, request: HttpRequest, arrival: Arrival): Promise<Caller> {
  const authorization = request.headers.get('authorization');
  // Read once: the failure budget is per token id too. A PAT-shaped value that fails the format or
  // checksum check is refused inside the guard, so it spends the address's budget.
  let credential: PatCredential | 'malformed' | undefined;
  if (access.pats) {
    try {
      credential = patCredentialOf(authorization);
    } catch {
      credential = 'malformed';
    }
  }
  const tokenId = typeof credential === 'object' && credential.kind === 'pat' ? credential.authorizationId : undefined;
  return guardAuthentication(arrival.app, request, tokenId, () => authenticateCredential(access, request, authorization, credential, arrival));
}

async function authenticateCredential(
  access: Authenticated,
  request: HttpRequest,
  authorization: string | null,
  credential: PatCredential | 'malformed' | undefined,
  { app, origin, activityId, traceparent }: Arrival,
): Promise<Caller> {
  if (access.pats) {
    if (credential === 'malformed') throw patRefused();
    if (credential?.kind === 'pat') {
      let organization: Organization | undefined;
      if (access.organization) {
        // The lookup refuses a name that cannot be an organization's.
        organization = await app.directory.getOrganizationByName(request.params.organization ?? '');
        if (!organization) throw patRefused();
      }
      return authenticatePat(app, credential, { organization, origin, activityId, traceparent, policies: access.pats.policies ?? 'enforce' });
    }
  }
  return authenticateJwt(app, authorization);
}

function authorizeCallerKind(access: Authenticated, caller: Caller): void {
  if (caller.kind === 'pat') {
    if (!access.pats) throw unauthorized();
    if (access.pats.scopes.length > 0 && !patHasAnyScope(caller, access.pats.scopes)) {
      throw forbidden('insufficientScope', `This PAT needs one of the scopes: ${access.pats.scopes.join(', ')}.`);
    }
    return;
  }
  if (caller.kind === 'user') {
    if (!access.users) throw forbidden('callerTypeNotAllowed', 'User tokens cannot call this API.');
    if (!hasAnyScope(caller.scopes, access.users.scopes)) {
      throw forbidden('insufficientScope', `This API requires one of the scopes: ${access.users.scopes.join(', ')}.`);
    }
    const roles = access.users.roles ?? [];
    if (roles.length > 0 && !roles.some((role) => caller.roles?.has(role))) {
      throw forbidden('missingRole', `This API requires one of the roles: ${roles.join(', ')}.`);
    }
    return;
  }
  if (!access.apps) throw forbidden('callerTypeNotAllowed', 'App-only tokens cannot call this API.');
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a caller kind added later is refused until it is handled above
  if (caller.kind !== 'servicePrincipal') throw unauthorized();
  if (access.apps.roles.length > 0 && !access.apps.roles.some((role) => caller.roles.has(role))) {
    throw forbidden('missingAppRole', `This API requires one of the app roles: ${access.apps.roles.join(', ')}.`);
  }
}

/** Reads a JSON body within the size limit; a wrong content type, bad JSON or schema miss is a 4xx. */
export async function readJsonBody<B>(request: HttpRequest, schema: z.ZodType<B>, maxBytes: number, issueCode?: IssueCode, acceptForm = false): Promise<B> {
  if (!METHODS_WITH_BODY.has(request.method)) return schema.parse(undefined);
  const bytes = await readBoundedBody(request, maxBytes);
  if (bytes.length === 0) {
    const absent = schema.safeParse(undefined);
    if (absent.success) return absent.data;
    throw badRequest('bodyRequired', 'A JSON request body is required.');
  }
  const contentType = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  let json: unknown;
  if (acceptForm && contentType === 'application/x-www-form-urlencoded') {
    json = readFormBody(bytes);
  } else {
    if (contentType !== 'application/json' && !contentType.endsWith('+json')) {
      throw new AppError(
        415,
        'unsupportedMediaType',
        acceptForm ? 'Send the request body as application/json or application/x-www-form-urlencoded.' : 'Send the request body as application/json.',
      );
    }
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw badRequest('invalidJson', 'The request body is not valid JSON.');
    }
  }
  assertJsonDepth(json);
  // JSON may spell unpaired surrogates (`"\ud800"`), which no storage key, queue or consumer takes:
  // every string is made well-formed (U+FFFD) before anything reads it, as Gatehouse stores text.
  const parsed = schema.safeParse(wellFormedDeep(json));
  if (!parsed.success) throw unknownFieldError(parsed.error) ?? validationError('invalidRequestBody', parsed.error, issueCode);
  return parsed.data;
}

/**
 * A body without a declared Content-Length is read only up to this size: a larger one (an npm
 * publish, say) must declare its length, so that one over its route's limit is refused before a byte
 * of it is read.
 */
export const MAX_UNDECLARED_BODY_BYTES = 1024 * 1024;

/**
 * Reads the request body chunk by chunk, never more than `maxBytes` (nor the declared length): a
 * body over the limit is a 413 decided from its Content-Length before it is read, or as soon as the
 * bytes read pass the limit; the rest is never buffered.
 */
export async function readBoundedBody(request: HttpRequest, maxBytes: number): Promise<Buffer> {
  const declaredHeader = request.headers.get('content-length');
  const declared = declaredHeader === null ? undefined : Number(declaredHeader);
  if (declared !== undefined && !(Number.isSafeInteger(declared) && declared >= 0))
    throw badRequest('invalidContentLength', 'The Content-Length header is not a byte count.');
  if (declared !== undefined && declared > maxBytes) throw requestTooLarge(maxBytes);
  const limit = declared ?? Math.min(maxBytes, MAX_UNDECLARED_BODY_BYTES);
  const stream = request.body;
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = (stream as ReadableStream<Uint8Array>).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        if (declared === undefined && limit < maxBytes) {
          throw new AppError(411, 'lengthRequired', `A request body larger than ${MAX_UNDECLARED_BODY_BYTES} bytes must declare its Content-Length.`);
        }
        throw requestTooLarge(maxBytes);
      }
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    throw error;
  }
  return Buffer.concat(chunks, size);
}

/** A form body as an object of strings; a repeated field or invalid UTF-8 is a 400. */
function readFormBody(bytes: Buffer): Record<string, string> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw badRequest('invalidFormBody', 'The form body is not valid UTF-8.');
  }
  const fields: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    if (Object.hasOwn(fields, key)) throw badRequest('invalidFormBody', `The form field '${key.slice(0, 64)}' is given more than once.`);
    fields[key] = value;
  }
  return fields;
}

export function requestTooLarge(maxBytes: number): AppError {
  return new AppError(413, 'requestBodyTooLarge', `The request body exceeds the limit of ${maxBytes} bytes.`);
}

function toResponse(result: EndpointResult, activityId: string): HttpResponseInit {
  const status = result.status ?? 200;
  const headers: Record<string, string> = { ...SECURITY_HEADERS, 'X-Activity-Id': activityId, ...result.headers };
  if (result.stream !== undefined) {
    return { status, body: result.stream, headers: { 'Content-Type': result.contentType ?? 'application/octet-stream', ...headers } };
  }
  if (result.text !== undefined) {
    return { status, body: result.text, headers: { 'Content-Type': result.contentType ?? 'text/plain; charset=utf-8', ...headers } };
  }
  if (result.body === undefined) return { status, headers };
  return {
    status,
    body: JSON.stringify(result.body),
    headers: { 'Content-Type': result.contentType ?? 'application/json; charset=utf-8', ...headers },
  };
}

export function errorResponse(
  error: AppError,
  activityId: string = randomUUID(),
  envelope: ErrorEnvelope = 'standard',
  apiVersion?: string | null,
): HttpResponseInit {
  return {
    status: error.status,
    body: JSON.stringify(renderErrorBody(error, envelope, apiVersion)),
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      ...SECURITY_HEADERS,
      'X-Activity-Id': activityId,
      ...(envelope === 'standard' ? {} : { 'X-Gatehouse-Error': error.code }),
      ...error.options.headers,
    },
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 2000);
  return String(error).slice(0, 2000);
}
