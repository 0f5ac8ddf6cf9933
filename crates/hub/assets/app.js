// guichet agent UI: progressive enhancement only. Every page works without this script; with
// it, the inbox updates live (Server-Sent Events), forms post without a reload, the composer
// checks a draft against WhatsApp's rules as it is written, and keys move around.
//
// No inline script anywhere (the Content-Security-Policy forbids it). Server HTML is swapped in
// only from guichet's own fragments, which escape everything they show; text that comes back
// as JSON is set with textContent, never as markup.
'use strict';

const guichet = (() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const csrf = () => $('meta[name="csrf-token"]')?.content || '';

  async function post(url, body, extra = {}) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': csrf(), Accept: 'application/json', ...extra },
      body,
    });
  }

  async function fragment(url) {
    const res = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
    if (res.redirected && new URL(res.url).pathname === '/login') {
      location.assign('/login');
      return null;
    }
    if (!res.ok) return null;
    return new DOMParser().parseFromString(await res.text(), 'text/html');
  }

  // Times: shown in the agent's own time zone.
  function localTimes(root = document) {
    const today = new Date().toDateString();
    for (const t of $$('time[data-short]', root)) {
      const d = new Date(t.getAttribute('datetime'));
      if (Number.isNaN(d.getTime())) continue;
      const hm = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      t.textContent = d.toDateString() === today
        ? hm
        : `${d.toLocaleDateString([], { day: 'numeric', month: 'short' })} ${hm}`;
      t.title = d.toLocaleString();
    }
  }

  function scrollThread(force) {
    const m = $('#messages');
    if (!m) return;
    const near = m.scrollHeight - m.scrollTop - m.clientHeight < 120;
    if (force || near) m.scrollTop = m.scrollHeight;
  }

  // --- Live updates ---------------------------------------------------------------------------
  const pending = new Set();
  let timer = null;

  function schedule(part) {
    pending.add(part);
    clearTimeout(timer);
    timer = setTimeout(flush, 150);
  }

  async function flush() {
    const parts = Array.from(pending);
    pending.clear();
    for (const part of parts) {
      if (part === 'list') await refreshList();
      if (part === 'thread') await refreshThread();
      if (part === 'panel') await refreshPanel();
    }
  }

  async function refreshList() {
    const pane = $('#list');
    if (!pane?.dataset.src) return;
    const doc = await fragment(pane.dataset.src);
    if (!doc) return;
    const searching = document.activeElement && pane.contains(document.activeElement);
    if (searching) {
      // Keep what the agent is typing: only the conversations and counts change.
      const list = $('#conv-list', pane);
      const fresh = $('#conv-list', doc);
      if (list && fresh) list.replaceWith(fresh);
      $$('.tabs', pane).forEach((tabs, i) => {
        const t = $$('.tabs', doc)[i];
        if (t) tabs.replaceWith(t);
      });
    } else {
      pane.replaceChildren(...doc.body.childNodes);
    }
    localTimes(pane);
    document.dispatchEvent(new Event('guichet:list'));
  }

  async function refreshThread() {
    const pane = $('#thread');
    if (!pane?.dataset.src) return;
    const doc = await fragment(pane.dataset.src);
    if (!doc) return;
    // The composer keeps its draft: only the head, the messages and the window change.
    for (const sel of ['.thread-head', '#messages', '[data-window]']) {
      const old = $(sel, pane);
      const fresh = $(sel, doc);
      if (old && fresh) old.replaceWith(fresh);
    }
    localTimes(pane);
    scrollThread(false);
    windowClock();
  }

  async function refreshPanel() {
    const pane = $('#panel');
    if (!pane?.dataset.src) return;
    if (document.activeElement && pane.contains(document.activeElement)) return;
    const doc = await fragment(pane.dataset.src);
    if (!doc) return;
    pane.replaceChildren(...doc.body.childNodes);
    localTimes(pane);
  }

  function live() {
    if (!$('#list')) return;
    const source = new EventSource('/inbox/events');
    const current = () => Number($('#thread')?.dataset.conversation || 0);
    source.addEventListener('change', (e) => {
      let data = {};
      try { data = JSON.parse(e.data); } catch { return; }
      schedule('list');
      if (data.conversation_id && data.conversation_id === current()) {
        schedule('thread');
        if (String(data.kind).startsWith('conversation.') || data.kind === 'consent.changed') {
          schedule('panel');
        }
      }
      const status = $('#live-status');
      if (status) status.textContent = 'Updated';
    });
    source.addEventListener('resync', () => { schedule('list'); schedule('thread'); schedule('panel'); });
    source.addEventListener('signed_out', () => { source.close(); location.assign('/login'); });
    source.onerror = () => {
      // The browser reconnects on its own; a closed feed means the session is gone.
      if (source.readyState === EventSource.CLOSED) location.reload();
    };
  }

  // --- Forms that act on a conversation -------------------------------------------------------
  function actions() {
    document.addEventListener('submit', async (e) => {
      const form = e.target;
      if (!(form instanceof HTMLFormElement) || !form.matches('[data-action]')) return;
      e.preventDefault();
      const res = await post(form.action, new URLSearchParams(new FormData(form)));
      if (!res.ok) {
        let detail = `Not done (${res.status}).`;
        try { detail = (await res.json()).detail || detail; } catch { /* a page */ }
        alertIn(form, detail);
        return;
      }
      // Done: the panel may be redrawn even though its button has the focus.
      if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
      schedule('list'); schedule('thread'); schedule('panel');
    });
    document.addEventListener('change', (e) => {
      const el = e.target;
      if (el instanceof HTMLSelectElement && el.matches('[data-autosubmit]')) el.form?.requestSubmit();
    });
  }

  function alertIn(form, text) {
    let box = $('.flash.error', form);
    if (!box) {
      box = document.createElement('p');
      box.className = 'flash error';
      box.setAttribute('role', 'alert');
      form.append(box);
    }
    box.textContent = text;
  }

  // --- The composer ---------------------------------------------------------------------------
  function composer() {
    const form = $('form[data-composer]');
    if (!form) return;
    const verdict = $('[data-verdict]', form);
    const text = $('[data-text]', form);
    const say = (msg, kind) => {
      verdict.textContent = msg;
      verdict.className = `grow verdict ${kind || ''}`;
    };

    const templates = () => {
      const chosen = $('[data-template]', form)?.value;
      for (const fs of $$('[data-template-params]', form)) {
        const on = fs.dataset.templateParams === chosen;
        fs.hidden = !on;
        for (const input of $$('input', fs)) input.disabled = !on;
      }
    };
    templates();

    let check = null;
    const preflight = () => {
      clearTimeout(check);
      check = setTimeout(async () => {
        const mode = new FormData(form).get('mode');
        if ((mode === 'text' || mode === 'note') && !text.value.trim()) { say(''); return; }
        const res = await post(form.dataset.preflight, new URLSearchParams(new FormData(form)));
        if (!res.ok) return;
        const r = await res.json();
        if (r.ok) {
          const p = r.price || {};
          const price = p.amount && p.billable !== false
            ? ` · ${p.amount} ${p.currency || ''} (${p.category})`
            : ` · free (${p.reason || p.category || 'no charge'})`;
          const notes = (r.verdict?.notes || []).map((n) => n.detail || n).join(' · ');
          say(`Allowed${price}${notes ? ` · ${notes}` : ''}`, 'ok');
        } else {
          const v = r.verdict || r;
          say(`${v.detail || 'Not allowed.'}${v.next_step ? ` — ${v.next_step}` : ''}`, 'bad');
        }
        const preview = $('[data-template-params]:not([hidden]) .preview-box', form);
        if (preview && r.preview) preview.textContent = r.preview;
      }, 300);
    };
    form.addEventListener('input', preflight);
    form.addEventListener('change', (e) => {
      if (e.target.matches('[data-template]')) templates();
      preflight();
    });
    preflight();

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const button = $('[data-send]', form);
      button.disabled = true;
      try {
        const res = await post(form.action, new URLSearchParams(new FormData(form)));
        let r = {};
        try { r = await res.json(); } catch { /* not JSON */ }
        if (res.ok && r.ok) {
          text.value = '';
          const options = $('textarea[name="options"]', form);
          if (options) options.value = '';
          for (const input of $$('[data-template-params] input', form)) input.value = '';
          say('Queued.', 'ok');
          schedule('thread'); schedule('list'); schedule('panel');
          scrollThread(true);
        } else {
          say(`Not sent: ${r.detail || `error ${res.status}`}${r.next_step ? ` — ${r.next_step}` : ''}`, 'bad');
        }
      } finally {
        button.disabled = false;
      }
    });
    form.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        form.requestSubmit();
      }
    });

    const canned = $('[data-canned]', form);
    canned?.addEventListener('change', () => {
      const option = canned.selectedOptions[0];
      if (!option?.dataset.body) return;
      const filled = option.dataset.body
        .replaceAll('{{name}}', form.dataset.contactName || '')
        .replaceAll('{{agent}}', form.dataset.agentName || '');
      const at = text.selectionStart ?? text.value.length;
      text.value = text.value.slice(0, at) + filled + text.value.slice(text.selectionEnd ?? at);
      canned.value = '';
      text.focus();
      preflight();
    });

    const file = $('[data-attach-file]', form);
    file?.addEventListener('change', async () => {
      const f = file.files?.[0];
      if (!f) return;
      say(`Uploading ${f.name}…`);
      const q = new URLSearchParams({ filename: f.name, caption: text.value });
      const res = await post(`${form.dataset.attach}?${q}`, f, { 'Content-Type': f.type || 'application/octet-stream' });
      let r = {};
      try { r = await res.json(); } catch { /* not JSON */ }
      if (res.ok && r.ok) {
        text.value = '';
        say('Queued.', 'ok');
        schedule('thread'); schedule('list');
      } else {
        say(`Not sent: ${r.detail || `error ${res.status}`}${r.next_step ? ` — ${r.next_step}` : ''}`, 'bad');
      }
      file.value = '';
    });
  }

  // The 24 h window counts down; when it closes the composer switches to templates.
  function windowClock() {
    const badge = $('[data-window][data-closes-at]');
    if (!badge) return;
    const closes = Number(badge.dataset.closesAt) * 1000;
    const left = closes - Date.now();
    if (left <= 0) {
      badge.textContent = '24 h window closed: only an approved template can reach the customer';
      badge.className = 'badge bad';
      const t = $('form[data-composer] input[name="mode"][value="template"]');
      if (t && !t.checked) { t.checked = true; t.dispatchEvent(new Event('change', { bubbles: true })); }
      return;
    }
    const h = Math.floor(left / 3600000);
    const m = Math.floor((left % 3600000) / 60000);
    badge.textContent = `24 h window open: ${h ? `${h} h ` : ''}${m} min left`;
  }

  // --- Keys -----------------------------------------------------------------------------------
  function keys() {
    document.addEventListener('keydown', (e) => {
      const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement
        || e.target instanceof HTMLSelectElement;
      if (e.key === 'Escape' && typing) { e.target.blur(); return; }
      if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === '/') {
        const q = $('#q');
        if (q) { e.preventDefault(); q.focus(); q.select(); }
      } else if (e.key === 'j' || e.key === 'k') {
        const links = $$('#conv-list a');
        if (!links.length) return;
        const at = links.findIndex((a) => a.getAttribute('aria-current') === 'true' || a === document.activeElement);
        const next = links[Math.min(links.length - 1, Math.max(0, at + (e.key === 'j' ? 1 : -1)))];
        next?.focus();
      } else if (e.key === 'r') {
        const t = $('[data-text]');
        if (t) { e.preventDefault(); t.focus(); }
      }
    });
    document.addEventListener('click', (e) => {
      if (e.target instanceof Element && e.target.closest('[data-side-toggle]')) {
        document.body.classList.toggle('side-open');
      }
    });
  }

  document.addEventListener('DOMContentLoaded', () => {
    localTimes();
    scrollThread(true);
    live();
    actions();
    composer();
    keys();
    windowClock();
    setInterval(windowClock, 30000);
  });

  return { csrf, post };
})();
