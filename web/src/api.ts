import createClient from 'openapi-fetch';
import type { paths } from './api/schema';
import { accessToken } from './auth';
import { describeError } from './errors';

/** The typed API client: request and response types come from the app's OpenAPI document. */
export const api = createClient<paths>({ baseUrl: location.origin });

api.use({
  async onRequest({ request }) {
    const token = await accessToken();
    if (token) request.headers.set('Authorization', `Bearer ${token}`);
    return request;
  },
});

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Outcome<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The response body, or an ApiError carrying the API's code and a readable message. */
export function ok<T>(outcome: Outcome<T>): T {
  if (outcome.response.ok) return outcome.data as T;
  const body = (outcome.error ?? {}) as { code?: string; message?: string };
  const code = body.code ?? `http${outcome.response.status}`;
  throw new ApiError(outcome.response.status, code, describeError(code, body.message, outcome.response.status));
}

/** Whether a call is allowed for this person: used to hide what the API would refuse. */
export async function allowed(call: () => Promise<Outcome<unknown>>): Promise<boolean> {
  try {
    return (await call()).response.ok;
  } catch {
    return false;
  }
}

/** Authenticated GET of a non-JSON body (downloads, calendars). */
export async function fetchBlob(path: string): Promise<Blob> {
  const token = await accessToken();
  const response = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { code?: string; message?: string };
    const code = body.code ?? `http${response.status}`;
    throw new ApiError(response.status, code, describeError(code, body.message, response.status));
  }
  return response.blob();
}

/** Saves an authenticated download (CSV, JSON, calendar) under the given file name. */
export async function download(path: string, fileName: string): Promise<void> {
  const blob = await fetchBlob(path);
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(link.href);
}
