import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { fileURLToPath } from 'node:url';
import { getAppContext } from '../shared/app-context.js';
import { encodeFor, loadPortalAssets, type PortalAsset } from '../shared/portal/assets.js';
import { portalContentSecurityPolicy, portalSignIn } from '../shared/portal/config.js';
import type { HttpDeclaration } from '../shared/runtime/declarations.js';

/**
 * The web portal, served by the app itself: the page shell at Azure DevOps-like paths, the
 * content-hashed assets (cached for a year) and the sign-in settings. Built by `npm run build`
 * (vite, web/) into dist/web beside the compiled functions.
 */
const PORTAL_DIRECTORY = fileURLToPath(
  // Compiled (dist/functions, or the bundle in its place): dist/web beside it; from source (tests): dist/web.
  new URL(/\/dist\/functions\/[^/]+$/.test(import.meta.url) ? '../web/' : '../dist/web/', import.meta.url),
);

let assets: ReadonlyMap<string, PortalAsset> | undefined;
const portalAssets = () => (assets ??= loadPortalAssets(PORTAL_DIRECTORY));

const COMMON_HEADERS = { 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' };

function respond(request: HttpRequest, asset: PortalAsset, headers: Record<string, string>): HttpResponseInit {
  const { body, encoding } = encodeFor(asset, request.headers.get('accept-encoding'));
  return {
    status: 200,
    body: request.method === 'HEAD' ? undefined : body,
    headers: {
      ...COMMON_HEADERS,
      'Content-Type': asset.contentType,
      'Content-Length': String(body.length),
      Vary: 'Accept-Encoding',
      ...(encoding ? { 'Content-Encoding': encoding } : {}),
      ...headers,
    },
  };
}

function notFound(message: string): HttpResponseInit {
  return { status: 404, body: message, headers: { ...COMMON_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' } };
}

/** The page shell: every page is the same document; the portal routes in the browser. */
function page(request: HttpRequest): HttpResponseInit {
  const shell = portalAssets().get('index.html');
  if (!shell) return notFound('The portal is not built (npm run build).');
  return respond(request, shell, {
    'Cache-Control': 'no-cache',
    'Content-Security-Policy': portalContentSecurityPolicy(portalSignIn(getAppContext().config)),
    'X-Frame-Options': 'DENY',
  });
}

const pageDeclaration = (name: string, route: string): HttpDeclaration => ({
  kind: 'http',
  name,
  options: { route, methods: ['GET', 'HEAD'], authLevel: 'anonymous' },
  handler: async (request) => page(request),
});

export const portalUserSettingsPage = pageDeclaration('portal-user-settings', '{organization}/_usersSettings/{*page}');
export const portalOrganizationSettingsPage = pageDeclaration('portal-organization-settings', '{organization}/_settings/{*page}');

export const portal: HttpDeclaration = {
  kind: 'http',
  name: 'portal',
  options: { route: '_portal/{*path}', methods: ['GET', 'HEAD'], authLevel: 'anonymous' },
  handler: async (request) => {
    const path = request.params.path ?? '';
    if (path === 'config.json') {
      const body = JSON.stringify({ signIn: portalSignIn(getAppContext().config) });
      return { status: 200, body, headers: { ...COMMON_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' } };
    }
    if (path.startsWith('assets/')) {
      const asset = portalAssets().get(path);
      if (!asset) return notFound('No such portal asset.');
      return respond(request, asset, { 'Cache-Control': 'public, max-age=31536000, immutable' });
    }
    return page(request);
  },
};
