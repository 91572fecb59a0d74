// The API client: every call goes through `request`, which adds the bearer token, records the
// exchange in the event log, turns problem+json bodies into `ProblemError`s, and — when the
// server answers 401 to a signed-in call — renews the access token with the refresh token and
// retries the call once.

import { logEvent } from './events.js';
import { clearTokens, currentTokens, setTokens } from './tokens.js';

/** The canonical prefix (the `/api` alias would work too, but says less). */
export const API = '/api/v1';

/** A failed call: `status`, and the problem body (`detail`, `error_code`, `errors`). */
export class ProblemError extends Error {
  constructor(status, problem) {
    const body = problem && typeof problem === 'object' ? problem : {};
    super(typeof body.detail === 'string' && body.detail ? body.detail : `Request failed (HTTP ${status})`);
    this.name = 'ProblemError';
    this.status = status;
    this.problem = body;
  }

  /** The stable `error_code`, or '' when the body had none. */
  get code() {
    return typeof this.problem.error_code === 'string' ? this.problem.error_code : '';
  }

  /** Field errors of a validation problem, as readable lines (`title: …`). */
  get fieldMessages() {
    const errors = Array.isArray(this.problem.errors) ? this.problem.errors : [];
    return errors.map((e) => {
      const loc = Array.isArray(e.loc) ? e.loc.filter((part) => part !== 'body' && part !== 'query').join('.') : '';
      return loc ? `${loc}: ${e.msg}` : String(e.msg);
    });
  }
}

const sessionEndedListeners = new Set();

/** Calls `listener(error)` when the server no longer accepts the session's refresh token. */
export function onSessionEnded(listener) {
  sessionEndedListeners.add(listener);
}

// In-flight calls, published as `data-pending` on <html> so tests (and styles) can tell when
// the page is idle.
let pending = 0;
function track(delta) {
  pending += delta;
  document.documentElement.dataset.pending = String(pending);
}

async function send(method, path, options) {
  track(1);
  try {
    return await exchange(method, path, options);
  } finally {
    track(-1);
  }
}

async function exchange(method, path, { json, form, token }) {
  // Paths the server hands out (OAuth start URLs) are already absolute.
  const url = path.startsWith('/api/') ? path : API + path;
  const headers = { Accept: 'application/json' };
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = new URLSearchParams(form);
  }
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(url, { method, headers, body, cache: 'no-store' });
  } catch {
    logEvent('error', `${method} ${url} → network error`);
    throw new ProblemError(0, { detail: 'The server could not be reached. Check your connection and try again.' });
  }
  let payload = null;
  if (response.status !== 204) {
    const text = await response.text();
    try {
      payload = text ? JSON.parse(text) : null;
    } catch {
      payload = { detail: text };
    }
  }
  const outcome = `${method} ${url} → ${response.status}`;
  if (response.ok) {
    logEvent('ok', outcome);
  } else {
    const detail = payload && typeof payload.detail === 'string' ? ` ${payload.detail}` : '';
    logEvent('error', `${outcome}${detail}`);
  }
  return { response, payload };
}

function result({ response, payload }) {
  if (!response.ok) throw new ProblemError(response.status, payload);
  return payload;
}

let refreshing = null;

/**
 * Rotates the token pair. Concurrent callers share one request: two refreshes of the same
 * token would look like a replay to the server, which answers the second with 401.
 */
export function refreshTokens() {
  if (!refreshing) {
    refreshing = (async () => {
      const tokens = currentTokens();
      if (!tokens) throw new ProblemError(401, { detail: 'Not signed in' });
      try {
        const pair = result(await send('POST', '/auth/refresh', { json: { refresh_token: tokens.refresh_token } }));
        setTokens(pair);
        return pair;
      } catch (error) {
        if (error instanceof ProblemError && error.status === 401) {
          // The session is over (revoked elsewhere, expired, or replayed): say so plainly.
          const ended = new ProblemError(401, {
            ...error.problem,
            detail: `Your session has ended (${error.message}). Please log in again.`,
          });
          clearTokens();
          sessionEndedListeners.forEach((listener) => listener(ended));
          throw ended;
        }
        throw error;
      }
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/**
 * Calls the API. `options.json` or `options.form` is the body; `options.auth` (default true)
 * sends the bearer token and allows one renewal-and-retry after a 401.
 *
 * @returns the parsed JSON body (null for 204)
 * @throws ProblemError
 */
export async function request(method, path, options = {}) {
  const auth = options.auth ?? true;
  const token = auth ? currentTokens()?.access_token : undefined;
  const first = await send(method, path, { ...options, token });
  if (first.response.status !== 401 || !token || !currentTokens()) return result(first);
  // The access token was refused (expired, most often). Renew it — unless another call
  // already did while this one was in flight — and try once more.
  if (currentTokens()?.access_token === token) {
    logEvent('info', 'Access token refused: renewing it with the refresh token');
    await refreshTokens();
  }
  const retried = currentTokens()?.access_token;
  return result(await send(method, path, { ...options, token: retried }));
}
