// The harness every browser test of guichet's UI shares: Debian's Chromium through
// playwright-core, a page that fails the test on any page error, console error or
// Content-Security-Policy violation, and a clear message and a non-zero exit on failure.
//
// The Rust test (crates/cli/tests/browser.rs) starts `guichet serve` and passes:
//   GUICHET_URL       the server's base URL
//   GUICHET_USER, GUICHET_PASSWORD             an admin
//   GUICHET_AGENT, GUICHET_AGENT_PASSWORD      an agent
import { chromium } from 'playwright-core';

export const env = (name) => {
  const value = process.env[name];
  if (!value) fail(`the environment variable ${name} is not set (the Rust test sets it)`);
  return value;
};

export function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/// Runs `test(page, context, watch)` in a fresh browser. Problems seen on the page (errors,
/// console errors, CSP violations) fail the test unless `watch.expect(pattern)` announced them.
export async function run(name, test) {
  // This machine's network reaches only package registries: nothing in the background.
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const problems = [];
  const expected = [];
  const watch = {
    // Announces a console error the next step causes on purpose (e.g. a 401 page's load).
    expect(pattern) { expected.push(pattern); },
    problems,
  };
  try {
    const context = await browser.newContext();
    await context.exposeBinding('__guichetCspViolation', (_source, text) => {
      problems.push(`CSP violation: ${text}`);
    });
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__guichetCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline code'} in ${e.sourceFile || e.documentURI}:${e.lineNumber}`);
      });
    });
    context.on('weberror', (e) => problems.push(`page error: ${e.error().message}`));
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const text = m.text();
      const i = expected.findIndex((p) => p.test(text));
      if (i >= 0) {
        expected.splice(i, 1);
        return;
      }
      problems.push(`console error: ${text}`);
    });
    await test(page, context, watch);
    if (problems.length) throw new Error(`the page reported problems:\n  ${problems.join('\n  ')}`);
    console.log(`ok: ${name}`);
  } catch (e) {
    const seen = problems.length && !e.message.startsWith('the page reported problems');
    fail(`${name}: ${e.message}${seen ? `\nproblems seen:\n  ${problems.join('\n  ')}` : ''}`);
  } finally {
    await browser.close();
  }
}
