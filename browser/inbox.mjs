// The agent inbox in a real browser, against `guichet demo` (hub + sandbox sharing the emulated
// clock): a sandbox customer writes and the message appears live; an agent replies; the window
// expires on the sandbox's clock and the composer refuses free text before sending, so a
// template goes instead; bot and human hand the conversation over; it is resolved and
// reopened; a second agent on another device sees every change live; customers' hostile text
// renders literally with no script running; a disabled agent's open page is signed out.
//
// Environment: GUICHET_URL, SANDBOX_URL, GUICHET_USER and GUICHET_PASSWORD (an admin),
// GUICHET_AGENT and GUICHET_AGENT_PASSWORD (an agent); SCREENSHOTS (a folder) to keep
// screenshots of the main pages.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const BASE = env('GUICHET_URL');
const SANDBOX = env('SANDBOX_URL');
const SHOTS = process.env.SCREENSHOTS || '';
const WAIT = 15000;
const corpus = JSON.parse(readFileSync(new URL('./xss-corpus.json', import.meta.url), 'utf8')).payloads;

const problems = [];
let step = 'start';
const log = (msg) => process.stdout.write(`${msg}\n`);

function fail(msg) {
  throw new Error(`${step}: ${msg}`);
}

async function sandbox(path, body) {
  const res = await fetch(`${SANDBOX}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) fail(`sandbox ${path} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : {};
}

/// A browser context (a device) whose pages fail the test on any dialog, page error, console
/// error or CSP violation.
async function device(browser, name) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  context.on('page', (page) => watch(page, name));
  return context;
}

function watch(page, name) {
  page.on('dialog', async (d) => {
    problems.push(`${name}: a dialog opened (${d.type()}: ${d.message()}) — injected script ran`);
    await d.dismiss();
  });
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    // 422: the composer's deliberate attempt to send outside the window.
    if (m.type() === 'error' && !/Failed to load resource.*(401|404|422)/.test(m.text())) {
      problems.push(`${name}: console error: ${m.text()}`);
    }
  });
}

async function signIn(context, user, password) {
  const page = await context.newPage();
  await page.goto(`${BASE}/login`);
  await page.fill('#username', user);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(/\/inbox/), page.click('button[type=submit]')]);
  return page;
}

async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
}

async function expectText(locator, text, what) {
  try {
    await locator.filter({ hasText: text }).first().waitFor({ timeout: WAIT });
  } catch {
    fail(`${what}: ${JSON.stringify(text)} did not appear`);
  }
}

async function main() {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium' });
  try {
    const ana = await device(browser, 'admin');
    const ben = await device(browser, 'agent');

    step = 'sign in on two devices';
    const a = await signIn(ana, env('GUICHET_USER'), env('GUICHET_PASSWORD'));
    const b = await signIn(ben, env('GUICHET_AGENT'), env('GUICHET_AGENT_PASSWORD'));
    const csp = (await a.request.get(`${BASE}/inbox`)).headers()['content-security-policy'] || '';
    if (!csp.includes("script-src 'self'") || csp.includes('unsafe-inline')) fail(`weak CSP: ${csp}`);

    step = 'a customer writes and it appears live';
    const customer = await sandbox('/_sandbox/customers', {
      phone: '+15550100200',
      name: 'Dana Broken-Washer',
      country: 'US',
    });
    const cid = customer.wa_id;
    await a.goto(`${BASE}/inbox?status=all`);
    await sandbox(`/_sandbox/customers/${cid}/messages`, { text: 'My *washing machine* stopped mid-cycle' });
    await expectText(a.locator('#conv-list li'), 'Dana Broken-Washer', 'the new conversation in the list');
    await expectText(a.locator('#conv-list li'), 'washing machine', 'its preview');
    await shot(a, 'inbox-list');

    step = 'open, take and reply';
    await a.locator('#conv-list a', { hasText: 'Dana Broken-Washer' }).click();
    await a.waitForURL(/\/inbox\/\d+/);
    const conversationUrl = a.url().split('?')[0];
    const bold = a.locator('#messages .msg.in .b', { hasText: 'washing machine' });
    await bold.waitFor({ timeout: WAIT }).catch(() => fail('WhatsApp *bold* is not rendered bold'));
    await b.goto(conversationUrl);
    await a.click('.thread-head button:has-text("Take")');
    await expectText(b.locator('#messages .event-line'), 'took the conversation', 'the other device sees the take');
    await a.fill('[data-text]', 'Sorry to hear that. A technician can come tomorrow.');
    await a.keyboard.press('Control+Enter');
    await expectText(a.locator('#messages .msg.out'), 'technician can come tomorrow', 'the reply in the thread');
    await expectText(b.locator('#messages .msg.out'), 'technician can come tomorrow', 'the other device sees the reply');
    await a.locator('#messages .msg.out .tick').last().waitFor({ timeout: WAIT });
    await shot(a, 'conversation');

    step = 'an attachment';
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
      'base64',
    );
    await a.fill('[data-text]', 'The part number is on this label');
    await a.setInputFiles('[data-attach-file]', { name: 'label.png', mimeType: 'image/png', buffer: png });
    await expectText(a.locator('#messages .msg.out'), 'The part number is on this label', 'the attachment with its caption');

    step = 'the customer answers a button';
    await a.check('input[name=mode][value=buttons]');
    await a.fill('[data-text]', 'Which slot suits you?');
    await a.fill('textarea[name=options]', 'Morning\nAfternoon');
    await a.click('[data-send]');
    await expectText(a.locator('#messages .msg.out .buttons'), 'Afternoon', 'the buttons sent');
    await sandbox(`/_sandbox/customers/${cid}/messages`, { button: 'b2' }).catch(() => null);

    step = 'the window expires on the sandbox clock';
    await sandbox('/_sandbox/clock/advance', { hours: 25 });
    await a.goto(conversationUrl);
    await expectText(a.locator('[data-window]'), 'closed', 'the window shown closed');
    await a.check('input[name=mode][value=text]');
    await a.fill('[data-text]', 'Are you still there?');
    await expectText(a.locator('[data-verdict]'), 'template', 'the refusal before sending');
    await a.click('[data-send]');
    await expectText(a.locator('[data-verdict]'), 'Not sent', 'the refusal when sending anyway');

    step = 'a template instead, once the customer opted in';
    await a.selectOption('#panel select[name=value]', 'opt_in');
    await a.selectOption('#panel select[name=source]', 'chat');
    await a.click('#panel form[action$="/consent"] button');
    await expectText(a.locator('#panel'), 'Opted in to business-initiated messages', 'the recorded opt-in');
    await a.check('input[name=mode][value=template]');
    await a.selectOption('[data-template]', 'repair_visit|fr');
    await a.fill('[data-template-params="repair_visit|fr"] input[name=p_1]', 'Dana');
    await a.fill('[data-template-params="repair_visit|fr"] input[name=p_2]', 'mardi 10h');
    await expectText(a.locator('[data-verdict]'), 'Allowed', 'the template allowed, with its price');
    await shot(a, 'composer-outside-window');
    await a.click('[data-send]');
    await expectText(a.locator('#messages .msg.out'), 'mardi 10h', 'the template with its parameters');

    step = 'bot and human hand over';
    await a.click('.thread-head button:has-text("Hand back to the bot")');
    await expectText(a.locator('#messages .event-line'), 'handed it to the bot', 'the handover to the bot');
    await expectText(b.locator('.thread-head .badge'), 'bot', 'the other device sees the bot holds it');
    await a.click('.thread-head button:has-text("Take")');
    await expectText(a.locator('#messages .event-line'), 'took over from the bot', 'the human takes it back');

    step = 'resolve and reopen';
    await a.click('.thread-head button:has-text("Resolve")');
    await expectText(b.locator('.thread-head .badge'), 'resolved', 'the other device sees it resolved');
    await a.click('.thread-head button:has-text("Reopen")');
    await expectText(b.locator('#messages .event-line'), 'reopened it', 'the other device sees it reopened');

    step = 'labels and a private note';
    await a.fill('#panel input[name=labels]', 'warranty, urgent');
    await a.click('#panel form[action$="/labels"] button');
    await expectText(a.locator('#messages .event-line'), 'labelled it warranty, urgent', 'the labels');
    await a.check('input[name=mode][value=note]');
    await a.fill('[data-text]', 'Customer prefers mornings');
    await a.click('[data-send]');
    await expectText(b.locator('#messages .msg.note'), 'prefers mornings', 'the note on the other device');

    step = 'hostile text renders as text';
    const hostile = await sandbox('/_sandbox/customers', {
      phone: '+15550100300',
      name: corpus[1],
      country: 'US',
    });
    for (const payload of corpus) {
      await sandbox(`/_sandbox/customers/${hostile.wa_id}/messages`, { text: payload });
    }
    await sandbox(`/_sandbox/customers/${hostile.wa_id}/messages`, {
      location: { latitude: 1.5, longitude: 2.5, name: corpus[0], address: corpus[2] },
    });
    await sandbox(`/_sandbox/customers/${hostile.wa_id}/messages`, {
      media: { type: 'image', caption: corpus[3] },
    });
    // A document whose filename and content are markup, labelled as a PDF.
    await sandbox(`/_sandbox/customers/${hostile.wa_id}/messages`, {
      media: {
        type: 'document',
        data_base64: Buffer.from(`<html><body><script>alert('xss-file')</script></body></html>`).toString('base64'),
        mime_type: 'application/pdf',
        filename: `${corpus[4]}.pdf`,
      },
    });
    await a.goto(`${BASE}/inbox?status=all`);
    const row = a.locator('#conv-list a', { hasText: corpus[1] });
    await row.waitFor({ timeout: WAIT }).catch(() => fail('the hostile customer is not listed by name, literally'));
    await row.click();
    await a.waitForURL(/\/inbox\/\d+/);
    await expectText(a.locator('#messages .msg.in'), corpus[corpus.length - 1], 'the last payload');
    // The document is offered as a download once guichet has its copy, never shown in the page.
    let download = a.locator('#messages a[download]').first();
    for (let i = 0; i < 30 && !(await download.count()); i++) {
      await a.waitForTimeout(500);
      await a.reload();
      download = a.locator('#messages a[download]').first();
    }
    if (!(await download.count())) fail('the hostile document is not offered for download');
    const file = await a.request.get(new URL(await download.getAttribute('href'), BASE).href);
    const disposition = file.headers()['content-disposition'] || '';
    if (!disposition.startsWith('attachment') || file.headers()['x-content-type-options'] !== 'nosniff') {
      fail(`the hostile document is not an attachment: ${JSON.stringify(file.headers())}`);
    }
    // Literal text: the same characters, but for WhatsApp's formatting markers (which format
    // where WhatsApp would) and the bidi controls (kept, but not compared).
    const plain = (t) => t.replace(/[*_~`\u202e\u202c\s]/g, '');
    const body = plain(await a.locator('#messages').innerText());
    for (const payload of corpus) {
      if (!body.includes(plain(payload))) fail(`payload not shown literally: ${payload}`);
    }
    await expectText(a.locator('#panel'), corpus[1], 'the hostile name in the contact panel');
    await a.fill('#panel input[name=labels]', corpus[0]);
    await a.click('#panel form[action$="/labels"] button');
    await a.fill('#q', corpus[2]);
    await a.press('#q', 'Enter');
    await a.waitForURL(/q=/);
    const injected = await a.evaluate(() => ({
      scripts: Array.from(document.scripts).filter((s) => !s.src.includes('/assets/')).length,
      handlers: Array.from(document.querySelectorAll('*')).filter((el) =>
        Array.from(el.attributes).some((at) => at.name.startsWith('on'))).length,
      jsLinks: Array.from(document.querySelectorAll('a[href]')).filter((l) =>
        !/^(https?:|\/|\?|#)/.test(l.getAttribute('href'))).length,
      unsafeLinks: Array.from(document.querySelectorAll('a[href^="http"]')).filter((l) =>
        !(l.rel || '').includes('noopener') || !(l.rel || '').includes('noreferrer')).length,
    }));
    if (injected.scripts || injected.handlers || injected.jsLinks || injected.unsafeLinks) {
      fail(`injected markup found: ${JSON.stringify(injected)}`);
    }

    step = 'keys and a phone-sized screen';
    await a.goto(`${BASE}/inbox?status=all`);
    await a.keyboard.press('/');
    if (!(await a.evaluate(() => document.activeElement?.id === 'q'))) fail('`/` does not focus the search');
    await a.keyboard.press('Escape');
    await a.keyboard.press('j');
    if (!(await a.evaluate(() => document.activeElement?.closest('#conv-list') !== null))) {
      fail('`j` does not move to a conversation');
    }
    const phone = await ana.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${BASE}/inbox?status=all`);
    if (!(await phone.locator('#conv-list').isVisible())) fail('the list is not shown on a phone');
    await phone.locator('#conv-list a').first().click();
    await phone.waitForURL(/\/inbox\/\d+/);
    if (await phone.locator('#list').isVisible()) fail('the list hides the conversation on a phone');
    if (!(await phone.locator('[data-text]').isVisible())) fail('no composer on a phone');
    await phone.close();

    step = 'the overview';
    await a.goto(`${BASE}/overview?days=7`);
    await a.locator('.chart svg').first().waitFor({ timeout: WAIT });
    await shot(a, 'overview');

    step = 'a disabled agent is signed out at once';
    await b.goto(`${BASE}/inbox`);
    await a.goto(`${BASE}/settings/users`);
    const agentRow = a.locator('tr', { hasText: env('GUICHET_AGENT') });
    await agentRow.locator('button:has-text("Disable")').click();
    await b.waitForURL(/\/login/, { timeout: WAIT }).catch(() => fail('the disabled agent still sees the inbox'));
    const res = await b.request.get(`${BASE}/inbox/list`, { maxRedirects: 0 });
    if (res.status() !== 303 && res.status() !== 302 && res.status() !== 401) {
      fail(`the disabled agent's session still answers ${res.status()}`);
    }

    if (problems.length) {
      step = 'page health';
      fail(problems.join('\n'));
    }
    log('inbox: every step passed');
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  if (problems.length) process.stderr.write(`also:\n${problems.join('\n')}\n`);
  process.exit(1);
});
