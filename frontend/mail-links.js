// The links the server mails (docs/contract.md, "Email verification and password reset"):
// `<origin>/#/verify-email?token=…` and `<origin>/#/reset-password?token=…`. The token rides in
// the fragment, which browsers never send to a server (no access log, no Referer); this module
// also takes it out of the address bar and the history entry at once, as oauth.js does with the
// tokens of an OAuth redirect, so the back button or a shared screen does not show it.

const ROUTES = {
  '/verify-email': 'verify-email',
  '/reset-password': 'reset-password',
};

/**
 * Reads a mailed link from the fragment and clears the fragment.
 *
 * @returns `{kind: 'verify-email' | 'reset-password', token}` (the token may be empty or
 *   malformed: the server judges it), or null when the fragment is not such a link.
 */
export function takeMailedLink() {
  const hash = window.location.hash.replace(/^#/, '');
  const mark = hash.indexOf('?');
  const route = mark === -1 ? hash : hash.slice(0, mark);
  const kind = ROUTES[route];
  if (!kind) return null;
  window.history.replaceState(window.history.state, '', window.location.pathname + window.location.search);
  const token = new URLSearchParams(mark === -1 ? '' : hash.slice(mark + 1)).get('token') ?? '';
  return { kind, token };
}
