// guichet agent UI: progressive enhancement only. Every page works without this script; with
// it, pages update live (SSE) and forms post without a reload. No inline script anywhere: the
// Content-Security-Policy forbids it.
'use strict';

const guichet = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || '';

  // fetch() with the session's CSRF token; same-origin only.
  async function post(url, body) {
    const headers = { 'X-CSRF-Token': csrf() };
    let payload = body;
    if (body && !(body instanceof FormData) && !(body instanceof URLSearchParams)) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    return fetch(url, { method: 'POST', headers, body: payload, credentials: 'same-origin' });
  }

  return { csrf, post };
})();
