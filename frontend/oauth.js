// OAuth: the providers the server offers, the buttons that start a sign-in or a link, and the
// fragment the server's callback redirects to (docs/contract.md, "Accounts and OAuth identities").

import { ProblemError, request } from './api.js';
import { logEvent } from './events.js';

// Names for fragments that arrive before (or without) the providers list.
const KNOWN_NAMES = {
  google: 'Google',
  microsoft: 'Microsoft',
  apple: 'Apple',
  facebook: 'Facebook',
  github: 'GitHub',
  oidc: 'OpenID Connect',
};

/** A same-origin path (`/api/v1/…`), never another origin. */
function isLocalPath(value) {
  return typeof value === 'string' && value.startsWith('/') && !value.startsWith('//');
}

/** `path` with `redirect_to_frontend=true`, so the flow comes back to this page. */
function toFrontend(path) {
  const url = new URL(path, window.location.origin);
  if (!url.searchParams.has('redirect_to_frontend')) url.searchParams.set('redirect_to_frontend', 'true');
  return url.pathname + url.search;
}

/**
 * The enabled providers, or none when the server has no OAuth routes (404) or cannot list
 * them right now: OAuth is optional, so its absence is not an error to show (the event log
 * still records the response).
 */
export async function loadProviders() {
  try {
    const body = await request('GET', '/auth/oauth/providers', { auth: false });
    const providers = Array.isArray(body?.providers) ? body.providers : [];
    return providers.filter((p) => p && typeof p.provider === 'string' && isLocalPath(p.start_url));
  } catch (error) {
    if (!(error instanceof ProblemError)) throw error;
    logEvent('info', error.status === 404 ? 'This server offers no OAuth sign-in.' : 'OAuth providers are unavailable right now.');
    return [];
  }
}

/** The name to show for `provider`. */
export function providerName(provider, providers) {
  const listed = providers.find((p) => p.provider === provider);
  return listed?.display_name || KNOWN_NAMES[provider] || provider;
}

/** Where "Continue with …" goes: the server's start URL, which redirects to the provider. */
export function startHref(provider) {
  return toFrontend(provider.start_url);
}

/**
 * Starts linking `provider` to the signed-in account: the server answers with the provider's
 * authorization URL (it needs the bearer token, so this is a call, not a link).
 */
export async function startLink(provider) {
  if (!isLocalPath(provider.link_start_url)) throw new ProblemError(0, { detail: 'This provider cannot be linked.' });
  const body = await request('POST', toFrontend(provider.link_start_url));
  const target = new URL(String(body?.authorization_url ?? ''), window.location.origin);
  if (target.protocol !== 'https:' && target.protocol !== 'http:') {
    throw new ProblemError(0, { detail: 'The server answered with an unusable authorization URL.' });
  }
  window.location.assign(target.href);
}

/**
 * Reads the fragment of an OAuth redirect (`#provider=…&access_token=…`, `…&linked=true` or
 * `…&error=…`) and removes it from the address bar and the history entry at once, so the tokens
 * do not linger where the back button, history sync or a shared screen would show them.
 *
 * @returns `{provider, kind: 'tokens', pair}`, `{provider, kind: 'linked'}`,
 *   `{provider, kind: 'error', error}`, or null when the page was not opened by a redirect.
 */
export function takeOAuthFragment() {
  const hash = window.location.hash.replace(/^#/, '');
  if (!hash) return null;
  const params = new URLSearchParams(hash);
  const provider = params.get('provider');
  if (!provider) return null;
  window.history.replaceState(window.history.state, '', window.location.pathname + window.location.search);
  if (params.has('error')) return { provider, kind: 'error', error: params.get('error') || 'unknown error' };
  if (params.get('linked') === 'true') return { provider, kind: 'linked' };
  const access = params.get('access_token');
  const refresh = params.get('refresh_token');
  const type = (params.get('token_type') ?? 'bearer').toLowerCase();
  if (access && refresh && type === 'bearer') {
    return { provider, kind: 'tokens', pair: { access_token: access, refresh_token: refresh } };
  }
  return { provider, kind: 'error', error: 'the sign-in response was incomplete' };
}
