// keel's browser GUI: the page's behaviour. Every handler is attached here with
// addEventListener (the Content-Security-Policy forbids inline handlers), and everything the
// server sends is written as text, never as HTML.

import { ProblemError, onSessionEnded, refreshTokens, request } from './api.js';
import { ERROR_CODES } from './error-codes.js';
import { byId, formatTime, h } from './dom.js';
import { attachLog, clearLog, logEvent } from './events.js';
import { takeMailedLink } from './mail-links.js';
import { loadProviders, providerName, startHref, startLink, takeOAuthFragment } from './oauth.js';
import { clearTokens, currentTokens, decodeClaims, onTokensChange, setTokens } from './tokens.js';

const PAGE_SIZES = [5, 10, 20, 50];

const state = {
  /** UserOut of the signed-in person, or null. */
  user: null,
  /** Enabled OAuth providers. */
  providers: [],
  /** The feed query. */
  feed: { skip: 0, limit: 10, search: '' },
  /** PostOut by id, as currently shown. */
  posts: new Map(),
  /** Id of the post in the composer, or null when composing a new one. */
  editing: null,
  /**
   * Posts this person has voted on, as far as this tab knows: the API reports counts, not who
   * voted, so the GUI remembers its own votes and corrects itself from the server's
   * `already_voted` / `vote_not_found` answers.
   */
  voted: new Set(),
  /** The token of the mailed reset link being used, kept in memory only. */
  resetToken: null,
};

const el = {};

// ---------------------------------------------------------------------------------------
// Notices

function showError(error) {
  if (!(error instanceof ProblemError)) {
    // A bug in the page, not an answer from the server: keep the details for developers.
    console.error(error);
  }
  const detail = error instanceof ProblemError ? error.message : 'Something went wrong in the page.';
  el.errorDetail.textContent = detail;
  const fields = error instanceof ProblemError ? error.fieldMessages : [];
  el.errorFields.replaceChildren(...fields.map((line) => h('li', {}, line)));
  el.error.hidden = false;
  el.status.hidden = true;
}

function clearError() {
  el.error.hidden = true;
  el.errorDetail.textContent = '';
  el.errorFields.replaceChildren();
}

function showStatus(text) {
  el.status.textContent = text;
  el.status.hidden = false;
  logEvent('info', text);
}

/**
 * Runs one user action: records it, clears the previous error, ignores repeated clicks while
 * it runs, and shows the problem `detail` if it fails.
 */
async function act(trigger, label, task) {
  if (trigger?.getAttribute('aria-busy') === 'true') return;
  clearError();
  el.status.hidden = true;
  if (label) logEvent('action', label);
  trigger?.setAttribute('aria-busy', 'true');
  try {
    await task();
  } catch (error) {
    showError(error);
  } finally {
    trigger?.removeAttribute('aria-busy');
  }
}

// ---------------------------------------------------------------------------------------
// Signed out / signed in

function setView(view) {
  document.body.dataset.view = view;
  el.signedOut.hidden = view !== 'signed-out';
  el.signedIn.hidden = view !== 'signed-in';
  el.verifyView.hidden = view !== 'verify-email';
  el.resetView.hidden = view !== 'reset-password';
}

function showSignedOut() {
  state.user = null;
  state.posts.clear();
  state.voted.clear();
  stopEditing();
  el.whoami.textContent = 'Signed out';
  renderProviders();
  setView('signed-out');
}

async function enterApp() {
  const user = await request('GET', '/users/me');
  state.user = user;
  state.voted = loadVotes(user.id);
  el.whoami.textContent = `Signed in as ${user.email}`;
  el.meEmail.textContent = user.email;
  el.meId.textContent = String(user.id);
  el.meCreated.textContent = formatTime(user.created_at);
  renderVerification(user);
  renderTokens();
  renderProviders();
  setView('signed-in');
  await Promise.all([loadFeed(), loadSessions()]);
}

/**
 * The signed-in home when this tab holds tokens, else the sign-in page. A refused session
 * (401) signs the tab out before the error is shown.
 */
async function showHome() {
  if (!currentTokens()) {
    showSignedOut();
    return;
  }
  try {
    await enterApp();
  } catch (error) {
    if (!currentTokens() || (error instanceof ProblemError && error.status === 401)) {
      clearTokens();
      showSignedOut();
    }
    throw error;
  }
}

function votesKey(userId) {
  return `keel.votes.${userId}`;
}

function loadVotes(userId) {
  try {
    const ids = JSON.parse(sessionStorage.getItem(votesKey(userId)) ?? '[]');
    return new Set(Array.isArray(ids) ? ids.filter(Number.isInteger) : []);
  } catch {
    return new Set();
  }
}

function saveVotes() {
  if (!state.user) return;
  try {
    sessionStorage.setItem(votesKey(state.user.id), JSON.stringify([...state.voted]));
  } catch {
    // Storage disabled: the votes are remembered until the page closes.
  }
}

// ---------------------------------------------------------------------------------------
// Account and tokens

function renderTokens() {
  const tokens = currentTokens();
  el.accessToken.value = tokens?.access_token ?? '';
  el.refreshToken.value = tokens?.refresh_token ?? '';
  const exp = tokens ? decodeClaims(tokens.access_token)?.exp : undefined;
  if (typeof exp === 'number') {
    const when = new Date(exp * 1000);
    el.tokenExpiry.textContent = when.toLocaleString();
  } else {
    el.tokenExpiry.textContent = tokens ? 'unknown' : '';
  }
}

async function logIn(email, password) {
  const pair = await request('POST', '/login', { form: { username: email, password }, auth: false });
  setTokens(pair);
  await enterApp();
}

async function logOut() {
  const tokens = currentTokens();
  try {
    if (tokens) await request('POST', '/auth/logout', { json: { refresh_token: tokens.refresh_token }, auth: false });
  } finally {
    // Whatever the server said, this tab forgets the session.
    clearTokens();
    showSignedOut();
  }
  showStatus('Logged out.');
}

async function logOutEverywhere() {
  await request('POST', '/auth/logout-all');
  clearTokens();
  showSignedOut();
  showStatus('Logged out on every device: all sessions are revoked.');
}

// ---------------------------------------------------------------------------------------
// Email verification and password reset (the mailed links are read by mail-links.js)

function renderVerification(user) {
  const verified = user.email_verified === true;
  el.emailBadge.textContent = verified ? 'Verified' : 'Not verified';
  el.emailBadge.className = verified ? 'badge' : 'badge badge-unverified';
  el.verifyPrompt.hidden = verified;
}

async function resendVerification() {
  await request('POST', '/auth/verify-email/resend');
  showStatus(`A new verification link is on its way to ${state.user.email}.`);
}

async function requestPasswordReset(email) {
  // 202 whether or not the address has an account: the server does not say, neither does this.
  await request('POST', '/auth/password-reset', { json: { email }, auth: false });
  showStatus(`If ${email} has an account here, a link to reset its password is on its way.`);
}

async function openVerifyLink(token) {
  setView('verify-email');
  el.verifyResult.textContent = 'Checking your link…';
  try {
    await request('POST', '/auth/verify-email', { json: { token }, auth: false });
    el.verifyResult.textContent = 'Your email address is verified.';
    showStatus('Email address verified.');
  } catch (error) {
    el.verifyResult.textContent =
      error instanceof ProblemError && error.code === ERROR_CODES.INVALID_VERIFICATION_TOKEN
        ? 'This link is invalid, expired or already used. Sign in and ask for a new one from your account.'
        : 'Your email address could not be verified.';
    throw error;
  } finally {
    el.verifyContinue.focus();
  }
}

function openResetLink(token) {
  state.resetToken = token;
  el.resetForm.reset();
  setView('reset-password');
  el.resetForm.elements.new_password.focus();
}

async function confirmPasswordReset(newPassword) {
  try {
    await request('POST', '/auth/password-reset/confirm', {
      json: { token: state.resetToken ?? '', new_password: newPassword },
      auth: false,
    });
  } catch (error) {
    if (error instanceof ProblemError && error.code === ERROR_CODES.INVALID_RESET_TOKEN) {
      throw new ProblemError(error.status, {
        ...error.problem,
        detail: 'This reset link is invalid, expired or already used: ask for a new one.',
      });
    }
    throw error;
  }
  state.resetToken = null;
  el.resetForm.reset();
  // The server ended every session of the account, this tab's included.
  clearTokens();
  showSignedOut();
  showStatus('Your password is changed and every session is signed out: log in with the new password.');
}

async function followMailedLink(link) {
  if (link.kind === 'verify-email') await openVerifyLink(link.token);
  else openResetLink(link.token);
}

// ---------------------------------------------------------------------------------------
// OAuth providers

function renderProviders() {
  const signedIn = Boolean(state.user);
  el.oauthButtons.replaceChildren(
    ...state.providers.map((p) =>
      h('a', { className: 'button', href: startHref(p) }, `Continue with ${providerName(p.provider, state.providers)}`),
    ),
  );
  el.oauthNone.hidden = state.providers.length > 0;
  const linkable = signedIn ? state.providers.filter((p) => typeof p.link_start_url === 'string') : [];
  el.linkButtons.replaceChildren(
    ...linkable.map((p) =>
      h('button', { type: 'button', dataset: { provider: p.provider } }, `Link ${providerName(p.provider, state.providers)}`),
    ),
  );
  el.linkSection.hidden = linkable.length === 0;
}

function handleOAuthFragment(fragment) {
  const name = providerName(fragment.provider, state.providers);
  if (fragment.kind === 'tokens') {
    setTokens(fragment.pair);
    showStatus(`Signed in with ${name}.`);
  } else if (fragment.kind === 'linked') {
    showStatus(`${name} is now linked to your account.`);
  } else {
    logEvent('error', `${name} sign-in failed: ${fragment.error}`);
    showError(new ProblemError(400, { detail: `Sign-in with ${name} failed: ${fragment.error}` }));
  }
}

// ---------------------------------------------------------------------------------------
// Sessions

// Most specific first: Edge and Opera also say "Chrome", Chrome also says "Safari".
const BROWSERS = [
  ['Edge', /Edg\/(\d+)/],
  ['Opera', /OPR\/(\d+)/],
  ['Firefox', /Firefox\/(\d+)/],
  ['Headless Chrome', /HeadlessChrome\/(\d+)/],
  ['Chrome', /Chrome\/(\d+)/],
  ['Safari', /Version\/(\d+).*Safari\//],
  ['curl', /curl\/(\d+)/],
];
const SYSTEMS = [
  ['Android', /Android/],
  ['iOS', /iPhone|iPad/],
  ['Windows', /Windows/],
  ['macOS', /Mac OS X/],
  ['ChromeOS', /CrOS/],
  ['Linux', /Linux/],
];

/** "Chrome 156 on Linux" from a User-Agent header (the full text stays in the tooltip). */
function describeAgent(agent) {
  if (!agent) return 'Unknown device';
  const browser = BROWSERS.find(([, pattern]) => pattern.test(agent));
  if (!browser) return agent.length > 60 ? `${agent.slice(0, 57)}…` : agent;
  const system = SYSTEMS.find(([, pattern]) => pattern.test(agent));
  const version = agent.match(browser[1])[1];
  return `${browser[0]} ${version}${system ? ` on ${system[0]}` : ''}`;
}

async function loadSessions() {
  const sessions = await request('GET', '/auth/sessions');
  el.sessions.replaceChildren(
    ...sessions.map((s) =>
      h(
        'li',
        { className: 'session', dataset: { id: s.id } },
        h(
          'div',
          { className: 'session-head' },
          h('strong', { title: s.user_agent ?? '' }, describeAgent(s.user_agent)),
          s.current && h('span', { className: 'badge' }, 'This session'),
        ),
        h('p', { className: 'muted' }, `Started ${formatTime(s.created_at)} · last used ${formatTime(s.last_used_at)}`),
        h(
          'button',
          { type: 'button', dataset: { action: 'revoke', id: s.id, current: s.current ? 'true' : 'false' } },
          s.current ? 'Revoke (logs you out)' : 'Revoke',
        ),
      ),
    ),
  );
  if (sessions.length === 0) el.sessions.append(h('li', { className: 'muted' }, 'No live sessions.'));
}

async function revokeSession(id, current) {
  await request('DELETE', `/auth/sessions/${encodeURIComponent(id)}`);
  if (current) {
    clearTokens();
    showSignedOut();
    showStatus('This session was revoked: you are logged out.');
  } else {
    showStatus('Session revoked.');
    await loadSessions();
  }
}

// ---------------------------------------------------------------------------------------
// Posts

function voteLabel(count) {
  return count === 1 ? '1 vote' : `${count} votes`;
}

function renderPost(item) {
  const post = item.Post;
  const mine = state.user && post.owner_id === state.user.id;
  const voted = state.voted.has(post.id);
  return h(
    'li',
    { className: 'post', id: `post-${post.id}`, dataset: { id: post.id } },
    h(
      'article',
      { 'aria-labelledby': `post-title-${post.id}` },
      h(
        'div',
        { className: 'post-head' },
        h('h3', { className: 'post-title', id: `post-title-${post.id}` }, post.title),
        !post.published && h('span', { className: 'badge badge-draft' }, 'Draft'),
      ),
      h('p', { className: 'post-meta muted' }, `by ${mine ? 'you' : post.owner.email} · ${formatTime(post.created_at)}`),
      h('p', { className: 'post-content' }, post.content),
      h(
        'div',
        { className: 'post-actions' },
        h('span', { className: 'vote-count' }, voteLabel(item.votes)),
        h(
          'button',
          {
            type: 'button',
            className: 'vote-button',
            dataset: { action: 'vote', id: post.id },
            'aria-pressed': voted ? 'true' : 'false',
            title: voted ? 'Remove your vote' : 'Vote for this post',
          },
          h('span', { 'aria-hidden': 'true' }, '▲'),
          'Upvote',
        ),
        mine && h('button', { type: 'button', dataset: { action: 'edit', id: post.id } }, 'Edit'),
        mine && h('button', { type: 'button', className: 'button-danger', dataset: { action: 'delete', id: post.id } }, 'Delete'),
      ),
    ),
  );
}

/** Updates one shown post's count and vote button in place (keeps keyboard focus). */
function updatePost(item) {
  state.posts.set(item.Post.id, item);
  const li = document.getElementById(`post-${item.Post.id}`);
  if (!li) return;
  li.querySelector('.vote-count').textContent = voteLabel(item.votes);
  const button = li.querySelector('.vote-button');
  const voted = state.voted.has(item.Post.id);
  button.setAttribute('aria-pressed', voted ? 'true' : 'false');
  button.title = voted ? 'Remove your vote' : 'Vote for this post';
}

async function loadFeed() {
  const { skip, limit, search } = state.feed;
  // One more than a page tells whether an older page exists.
  const query = new URLSearchParams({ limit: String(limit + 1), skip: String(skip) });
  if (search) query.set('search', search);
  const items = await request('GET', `/posts?${query}`);
  const page = items.slice(0, limit);
  state.posts = new Map(page.map((item) => [item.Post.id, item]));
  el.posts.replaceChildren(...page.map(renderPost));
  el.feedEmpty.hidden = page.length > 0;
  el.feedEmpty.textContent = search ? `No posts match “${search}”.` : 'No posts yet: write the first one.';
  el.pagePrev.disabled = skip === 0;
  el.pageNext.disabled = items.length <= limit;
  el.pageInfo.textContent = `Page ${Math.floor(skip / limit) + 1}`;
}

async function vote(id) {
  const dir = state.voted.has(id) ? 0 : 1;
  let failure = null;
  try {
    await request('POST', '/vote', { json: { post_id: id, dir } });
    if (dir === 1) state.voted.add(id);
    else state.voted.delete(id);
  } catch (error) {
    // The server knows better than this tab: align with its answer, then show it.
    if (!(error instanceof ProblemError)) throw error;
    if (error.code === ERROR_CODES.ALREADY_VOTED) state.voted.add(id);
    if (error.code === ERROR_CODES.VOTE_NOT_FOUND) state.voted.delete(id);
    failure = error;
  }
  saveVotes();
  if (state.posts.has(id) && failure?.code !== ERROR_CODES.POST_NOT_FOUND) {
    updatePost(await request('GET', `/posts/${id}`));
  }
  if (failure) throw failure;
  showStatus(dir === 1 ? 'Vote added.' : 'Vote removed.');
}

function startEditing(id) {
  const item = state.posts.get(id);
  if (!item) return;
  state.editing = id;
  el.postForm.elements.title.value = item.Post.title;
  el.postForm.elements.content.value = item.Post.content;
  el.postForm.elements.published.checked = item.Post.published;
  el.composerHeading.textContent = `Edit “${item.Post.title}”`;
  el.postSubmit.textContent = 'Save changes';
  el.postCancel.hidden = false;
  el.postForm.scrollIntoView({ block: 'nearest' });
  el.postForm.elements.title.focus();
}

function stopEditing() {
  state.editing = null;
  el.postForm.reset();
  el.composerHeading.textContent = 'New post';
  el.postSubmit.textContent = 'Publish';
  el.postCancel.hidden = true;
}

async function savePost() {
  const form = el.postForm.elements;
  const body = { title: form.title.value, content: form.content.value, published: form.published.checked };
  if (state.editing !== null) {
    const saved = await request('PUT', `/posts/${state.editing}`, { json: body });
    stopEditing();
    showStatus(`Saved “${saved.title}”.`);
  } else {
    const created = await request('POST', '/posts', { json: body });
    el.postForm.reset();
    state.feed.skip = 0;
    showStatus(created.published ? `Published “${created.title}”.` : `Saved the draft “${created.title}” (only you can see it).`);
  }
  await loadFeed();
}

async function deletePost(id) {
  const item = state.posts.get(id);
  const title = item ? item.Post.title : `post ${id}`;
  if (!window.confirm(`Delete “${title}”? This cannot be undone.`)) return;
  await request('DELETE', `/posts/${id}`);
  if (state.editing === id) stopEditing();
  showStatus(`Deleted “${title}”.`);
  await loadFeed();
}

// ---------------------------------------------------------------------------------------
// Wiring

function collectElements() {
  for (const [key, id] of Object.entries({
    whoami: 'whoami',
    error: 'error',
    errorDetail: 'error-detail',
    errorFields: 'error-fields',
    errorDismiss: 'error-dismiss',
    status: 'status',
    signedOut: 'signed-out',
    signedIn: 'signed-in',
    loginForm: 'login-form',
    registerForm: 'register-form',
    oauthButtons: 'oauth-buttons',
    oauthNone: 'oauth-none',
    composerHeading: 'composer-heading',
    postForm: 'post-form',
    postSubmit: 'post-submit',
    postCancel: 'post-cancel',
    searchForm: 'search-form',
    feedEmpty: 'feed-empty',
    posts: 'posts',
    pagePrev: 'page-prev',
    pageNext: 'page-next',
    pageInfo: 'page-info',
    meEmail: 'me-email',
    emailBadge: 'email-badge',
    verifyPrompt: 'verify-prompt',
    resendVerification: 'resend-verification',
    forgotForm: 'forgot-form',
    verifyView: 'verify-email-view',
    verifyResult: 'verify-result',
    verifyContinue: 'verify-continue',
    resetView: 'reset-password-view',
    resetForm: 'reset-form',
    resetCancel: 'reset-cancel',
    meId: 'me-id',
    meCreated: 'me-created',
    tokenExpiry: 'token-expiry',
    accessToken: 'access-token',
    refreshToken: 'refresh-token',
    refreshButton: 'refresh-button',
    logoutButton: 'logout-button',
    logoutAllButton: 'logout-all-button',
    linkSection: 'link-section',
    linkButtons: 'link-buttons',
    sessions: 'sessions',
    sessionsReload: 'sessions-reload',
    log: 'log',
    logClear: 'log-clear',
  })) {
    el[key] = byId(id);
  }
}

function submitButton(form) {
  return form.querySelector('button[type="submit"]');
}

function wire() {
  el.errorDismiss.addEventListener('click', clearError);

  el.loginForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const email = form.elements.username.value.trim();
    const password = form.elements.password.value;
    act(submitButton(form), `Log in as ${email}`, async () => {
      await logIn(email, password);
      form.reset();
      showStatus(`Logged in as ${email}.`);
    });
  });

  el.registerForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const email = form.elements.email.value.trim();
    const password = form.elements.password.value;
    act(submitButton(form), `Register ${email}`, async () => {
      await request('POST', '/users', { json: { email, password }, auth: false });
      await logIn(email, password);
      form.reset();
      showStatus(`Welcome, ${email}: your account is ready.`);
    });
  });

  el.forgotForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const email = form.elements.email.value.trim();
    act(submitButton(form), `Ask for a password reset for ${email}`, async () => {
      await requestPasswordReset(email);
      form.reset();
    });
  });
  el.resendVerification.addEventListener('click', () =>
    act(el.resendVerification, 'Resend the verification email', resendVerification),
  );
  el.verifyContinue.addEventListener('click', () => act(el.verifyContinue, 'Continue', showHome));
  el.resetForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    act(submitButton(form), 'Set a new password', () => confirmPasswordReset(form.elements.new_password.value));
  });
  el.resetCancel.addEventListener('click', () => {
    state.resetToken = null;
    el.resetForm.reset();
    act(el.resetCancel, 'Cancel the password reset', showHome);
  });
  // A mailed link opened in a tab that already shows the GUI changes only the fragment.
  window.addEventListener('hashchange', () => {
    const link = takeMailedLink();
    if (link) act(null, link.kind === 'verify-email' ? 'Verify email (mailed link)' : 'Reset password (mailed link)', () => followMailedLink(link));
  });

  el.refreshButton.addEventListener('click', () =>
    act(el.refreshButton, 'Refresh tokens', async () => {
      await refreshTokens();
      showStatus('Tokens refreshed: the old refresh token no longer works.');
      await loadSessions();
    }),
  );
  el.logoutButton.addEventListener('click', () => act(el.logoutButton, 'Log out', logOut));
  el.logoutAllButton.addEventListener('click', () => act(el.logoutAllButton, 'Log out everywhere', logOutEverywhere));

  el.linkButtons.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-provider]');
    if (!button) return;
    const provider = state.providers.find((p) => p.provider === button.dataset.provider);
    if (provider) act(button, `Link ${providerName(provider.provider, state.providers)}`, () => startLink(provider));
  });

  el.sessionsReload.addEventListener('click', () => act(el.sessionsReload, 'Reload sessions', loadSessions));
  el.sessions.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action="revoke"]');
    if (!button) return;
    const current = button.dataset.current === 'true';
    act(button, `Revoke session ${button.dataset.id}`, () => revokeSession(button.dataset.id, current));
  });

  el.postForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const label = state.editing !== null ? `Save post ${state.editing}` : 'Create post';
    act(el.postSubmit, label, savePost);
  });
  el.postCancel.addEventListener('click', () => {
    stopEditing();
    logEvent('action', 'Cancel editing');
  });
  el.postForm.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && state.editing !== null) {
      stopEditing();
      logEvent('action', 'Cancel editing');
    }
  });

  el.searchForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget.elements;
    state.feed.search = form.search.value.trim();
    const limit = Number(form.limit.value);
    state.feed.limit = PAGE_SIZES.includes(limit) ? limit : 10;
    state.feed.skip = 0;
    act(submitButton(event.currentTarget), state.feed.search ? `Search “${state.feed.search}”` : 'Show all posts', loadFeed);
  });
  el.pagePrev.addEventListener('click', () => {
    state.feed.skip = Math.max(0, state.feed.skip - state.feed.limit);
    act(el.pagePrev, 'Newer posts', loadFeed);
  });
  el.pageNext.addEventListener('click', () => {
    state.feed.skip += state.feed.limit;
    act(el.pageNext, 'Older posts', loadFeed);
  });

  el.posts.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (!button) return;
    const id = Number(button.dataset.id);
    const title = state.posts.get(id)?.Post.title ?? `post ${id}`;
    switch (button.dataset.action) {
      case 'vote':
        act(button, `${state.voted.has(id) ? 'Unvote' : 'Vote'} “${title}”`, () => vote(id));
        break;
      case 'edit':
        clearError();
        el.status.hidden = true;
        logEvent('action', `Edit “${title}”`);
        startEditing(id);
        break;
      case 'delete':
        act(button, `Delete “${title}”`, () => deletePost(id));
        break;
      default:
        break;
    }
  });

  el.logClear.addEventListener('click', clearLog);

  onTokensChange(renderTokens);
  onSessionEnded(() => showSignedOut());
}

async function start() {
  collectElements();
  attachLog(el.log);
  wire();
  document.body.dataset.view = 'loading';
  // Before anything else: take a mailed token or an OAuth redirect's tokens out of the
  // fragment (and the history).
  const link = takeMailedLink();
  const fragment = link ? null : takeOAuthFragment();
  state.providers = await loadProviders();
  if (fragment) handleOAuthFragment(fragment);
  try {
    if (link) {
      logEvent('action', link.kind === 'verify-email' ? 'Verify email (mailed link)' : 'Reset password (mailed link)');
      await followMailedLink(link);
    } else {
      await showHome();
    }
  } catch (error) {
    // Not through act(): that would clear what an OAuth fragment just showed.
    showError(error);
  }
}

start().catch(showError);
