// The event log: a client-side record of what the person did and what the server answered,
// newest first. It never holds a password or a token.

const MAX_ENTRIES = 200;
/** @type {HTMLOListElement | null} */
let list = null;

/** Renders into `element` from now on. */
export function attachLog(element) {
  list = element;
}

/**
 * Records one line. `kind` is `action` (something the person did), `ok` (a successful
 * response), `error` (a failed one) or `info`.
 */
export function logEvent(kind, message) {
  if (!list) return;
  const item = document.createElement('li');
  item.className = `log-entry log-${kind}`;
  const time = document.createElement('time');
  const now = new Date();
  time.dateTime = now.toISOString();
  time.textContent = now.toLocaleTimeString();
  const text = document.createElement('span');
  text.textContent = message;
  item.append(time, ' ', text);
  list.prepend(item);
  while (list.children.length > MAX_ENTRIES) list.lastElementChild.remove();
}

/** Empties the log. */
export function clearLog() {
  if (list) list.replaceChildren();
}
