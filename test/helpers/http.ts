import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { RequestOf, ResponseOf } from './client.js';
import type { TestEnvironment } from './environment.js';

/** A reply with its body parsed as JSON (undefined when it is empty or not JSON), and its raw text. */
export interface JsonReply {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

export interface CallOptions {
  /** A bearer token for `env.fetch` (a user token, an app token or a PAT). */
  token?: string | undefined;
  /** The whole Authorization header (e.g. Basic), for calls without `token`. */
  authorization?: string | undefined;
  /** A JSON body: strings are sent as they are, anything else as JSON. */
  body?: unknown;
  /** Content type of `body` (default application/json). */
  contentType?: string | undefined;
  /** An `application/x-www-form-urlencoded` body instead of `body`. */
  form?: string | undefined;
  headers?: Record<string, string> | undefined;
}

/** Calls the test runtime and parses the answer: the transport under `client` (client.ts), which tests use. */
export async function callJson(env: Pick<TestEnvironment, 'fetch'>, method: string, path: string, options: CallOptions = {}): Promise<JsonReply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  let body: string | undefined;
  if (options.form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = options.form;
  } else if (options.body !== undefined) {
    headers['content-type'] = options.contentType ?? 'application/json';
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  }
  const response = await env.fetch(path, {
    method,
    headers,
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  let parsed: any;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, text, headers: response.headers };
}

/** A PAT as `POST _apis/tokens/pats` returns it (with its secret). */
export type CreatedPat = NonNullable<ResponseOf<'pats-create'>['patToken']> & { token: string };

/**
 * Creates a PAT in `organization` (default contoso) as the caller of `token` or `authorization`;
 * defaults: a random name, vso.code, valid for 30 days of the environment's clock, this organization only.
 */
export async function createPat(
  env: Pick<TestEnvironment, 'fetch'> & { readonly clock: { now(): Date } },
  caller: { token?: string; authorization?: string },
  body: Partial<RequestOf<'pats-create'>> = {},
  organization = 'contoso',
): Promise<CreatedPat> {
  const validTo = new Date(env.clock.now().getTime() + 30 * 86_400_000).toISOString();
  const sent: RequestOf<'pats-create'> = { displayName: `pat-${randomUUID().slice(0, 8)}`, scope: 'vso.code', validTo, allOrgs: false, ...body };
  const reply = await callJson(env, 'POST', `/${organization}/_apis/tokens/pats?api-version=7.1-preview.1`, { ...caller, body: sent });
  expect(reply.status, reply.text).toBe(200);
  return reply.body.patToken as CreatedPat;
}
