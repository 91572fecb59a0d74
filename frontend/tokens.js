// The signed-in user's token pair.
//
// Tokens live in memory — the source of truth while the page is open — and are mirrored to
// sessionStorage only so that a reload, or the round trip through an OAuth provider, keeps the
// session.
//
// Why sessionStorage and not localStorage: localStorage is shared by every tab of the origin
// and stays on disk after the browser closes, so a 30-day refresh token would outlive the
// visit, and two tabs would rotate the same refresh token: the second rotation is a reuse,
// which revokes the whole session family (docs/contract.md, "Tokens and sessions"). sessionStorage belongs to one tab and is
// gone when the tab closes. Neither is out of reach of a script injected into the page
// (HttpOnly cookies would be, but the API's contract is bearer tokens); the defence there is the
// Content-Security-Policy, which runs scripts only from this origin, and this GUI's rule of
// never writing text it received as HTML.

const STORAGE_KEY = 'keel.tokens';

/** @type {{access_token: string, refresh_token: string} | null} */
let current = readStored();
const listeners = new Set();

function readStored() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null');
    if (stored && typeof stored.access_token === 'string' && typeof stored.refresh_token === 'string') {
      return { access_token: stored.access_token, refresh_token: stored.refresh_token };
    }
  } catch {
    // Storage disabled or its content unreadable: start signed out.
  }
  return null;
}

function store() {
  try {
    if (current) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(current));
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage disabled (e.g. a locked-down browser): the session lasts until the page closes.
  }
}

/** The current pair, or null when signed out. */
export function currentTokens() {
  return current;
}

/** Replaces the pair (after log-in, refresh, or an OAuth redirect). */
export function setTokens(pair) {
  current = { access_token: pair.access_token, refresh_token: pair.refresh_token };
  store();
  listeners.forEach((listener) => listener(current));
}

/** Forgets the pair (log-out, or a session the server no longer accepts). */
export function clearTokens() {
  current = null;
  store();
  listeners.forEach((listener) => listener(current));
}

/** Calls `listener(pair | null)` whenever the pair changes. */
export function onTokensChange(listener) {
  listeners.add(listener);
}

/**
 * The claims of a JWT, for display only (expiry, session family). Nothing is trusted from them:
 * the server verifies every token it receives.
 */
export function decodeClaims(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const padded = payload + '='.repeat((4 - (payload.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}
