// Signing in and out of guichet's agent UI in a real browser: a wrong password shows the error;
// the right one signs in with a __Host- cookie that scripts cannot read; the sessions page lists
// this device; signing out returns to the sign-in page, and the back button does not bring a
// signed-in page's data back.
import { run, env, check } from './harness.mjs';

const base = env('GUICHET_URL');
const user = env('GUICHET_USER');
const password = env('GUICHET_PASSWORD');

await run('login', async (page, context, watch) => {
  // A page behind sign-in sends the browser to the form, and back afterwards.
  await page.goto(`${base}/settings/sessions`);
  check(new URL(page.url()).pathname === '/login', `expected the sign-in page, got ${page.url()}`);
  check(new URL(page.url()).searchParams.get('next') === '/settings/sessions', `next lost: ${page.url()}`);

  // A wrong password: the error, and no session cookie.
  await page.fill('#username', user);
  await page.fill('#password', 'not-the-password');
  watch.expect(/status of 401/);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  const error = await page.textContent('#login-error');
  check(error && error.includes('Wrong username or password.'), `expected the error, got ${error}`);
  check(!(await context.cookies()).some((c) => c.name === '__Host-guichet'), 'a failed sign-in set a session cookie');

  // The right one.
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  check(new URL(page.url()).pathname === '/settings/sessions', `expected the sessions page, got ${page.url()}`);
  const cookie = (await context.cookies()).find((c) => c.name === '__Host-guichet');
  check(cookie, `no __Host-guichet cookie; cookies: ${JSON.stringify(await context.cookies())}`);
  check(cookie.httpOnly, 'the session cookie is readable by scripts');
  check(cookie.secure, 'the session cookie is not Secure');
  check(cookie.sameSite === 'Lax', `SameSite is ${cookie.sameSite}`);
  check(cookie.path === '/', `Path is ${cookie.path}`);
  check(!(await page.evaluate(() => document.cookie)).includes('__Host-guichet'), 'document.cookie shows the session');

  // This device, among the user's sessions.
  const current = await page.textContent('#sessions tr.current');
  check(current && current.includes('this device'), `this device is not marked: ${current}`);
  check(current.includes('Headless Chrome') || current.includes('Chrome'), `device not described: ${current}`);

  // Signing out returns to the sign-in page.
  await Promise.all([page.waitForNavigation(), page.click('.whoami button[type=submit]')]);
  check(new URL(page.url()).pathname === '/login', `expected the sign-in page, got ${page.url()}`);
  const notice = await page.textContent('.flash.ok');
  check(notice && notice.includes('signed out'), `no sign-out notice: ${notice}`);
  check(!(await context.cookies()).some((c) => c.name === '__Host-guichet'), 'the session cookie outlived the sign-out');

  // Back: the sessions page is not shown again from any cache.
  await page.goBack();
  await page.waitForLoadState();
  check(await page.locator('#sessions').count() === 0, `the back button showed the sessions page: ${page.url()}`);
  check(await page.locator('#login-form').count() === 1, `expected the sign-in form after going back, got ${page.url()}`);

  // Nothing the policy blocked was reported to the server either.
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const reports = metrics.split('\n').find((l) => l.startsWith('guichet_csp_reports_total'));
  check(reports && reports.trim().endsWith(' 0'), `the server received CSP reports: ${reports}`);
});
