// The live dashboard (docs/observability.md, "Dashboard") in headless Chromium, against a real
// gateway and real mock upstreams: the page loads clean at a laptop's and a phone's size, shows
// the traffic sent through the official OpenAI client (requests, cache hits), shows a deployment
// whose upstream fails as ejected, and asks for the admin key when the gateway has one. The
// static files' HTTP side (types, ETags, 304s, caching, CSP, errors) is checked with plain fetch.
//
// /admin/stats and /admin/alerts come from the performance API. Where this gateway does not have
// them yet (404), the test asserts that their panels say "not available" and excuses exactly
// those 404s; once it does, it asserts the figures they show instead.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { artifactPath, launchChromium, watchPage } from "./browser.mjs";
import { closedPort, startGateway, startMock } from "./helpers.mjs";

const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const ADMIN_KEY = "sk-admin-dashboard-test";
const UI_TIMEOUT_MS = 10_000;

function config({ goodPort, badPort, adminKey }) {
  return `\
${adminKey ? `auth: {admin_key: ${adminKey}}\n` : ""}cache: {enabled: true}
providers:
  - name: good
    kind: openai
    base_url: http://127.0.0.1:${goodPort}/v1
  - name: bad
    kind: openai
    base_url: http://127.0.0.1:${badPort}/v1
models:
  - name: fast
    deployments: [{provider: good, model: llama-3.1-8b}]
  - name: pair
    # Each deployment in turn, so the failing one is tried; two failures in a row eject it, for
    # long enough that the test sees it.
    strategy: round-robin
    health: {outlier: {consecutive_failures: 2, base_ejection: 300s, max_ejection: 300s}}
    deployments:
      - {provider: good, model: llama-3.1-8b}
      - {provider: bad, model: llama-3.1-8b}
`;
}

async function chat(base, model, content, headers = {}) {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model, messages: [{ role: "user", content }] }),
  });
  await res.arrayBuffer();
  return res;
}

// Asks for the files as they are, unless a test asks for gzip (fetch would ask for it itself).
const IDENTITY = { "accept-encoding": "identity" };
const plain = (url, init = {}) => fetch(url, { ...init, headers: { ...IDENTITY, ...init.headers } });

async function json(url, headers = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.json() };
}

describe("dashboard", () => {
  let good;
  let bad;
  let gateway;
  let base;
  let browser;
  let statsPresent;
  let alertsPresent;

  before(async () => {
    [good, bad] = await Promise.all([startMock(), startMock()]);
    gateway = await startGateway(config({ goodPort: good.port, badPort: bad.port }));
    base = `http://127.0.0.1:${gateway.port}`;
    statsPresent = (await fetch(`${base}/admin/stats`)).status === 200;
    alertsPresent = (await fetch(`${base}/admin/alerts`)).status === 200;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await Promise.all([gateway?.stop(), good?.stop(), bad?.stop()]);
  });

  // The 404s of a performance API this gateway does not have are the only errors excused.
  const allowMissingRoutes = (kind, detail) =>
    (!statsPresent || !alertsPresent) &&
    ((kind === "response" &&
      ((!statsPresent && detail === `404 ${base}/admin/stats`) ||
       (!alertsPresent && detail === `404 ${base}/admin/alerts`))) ||
     (kind === "console" && /Failed to load resource: .*status of 404/.test(detail) &&
      /\/admin\/(stats|alerts)/.test(detail)));

  async function openDashboard(viewport, allow = allowMissingRoutes) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const problems = watchPage(page, allow);
    const response = await page.goto(`${base}/dashboard`);
    assert.equal(response.status(), 200);
    return { context, page, problems };
  }

  for (const [name, viewport] of [["laptop", LAPTOP], ["phone", PHONE]]) {
    it(`loads at ${name} size (${viewport.width}x${viewport.height}) with no errors`, async () => {
      const { context, page, problems } = await openDashboard(viewport);
      try {
        await page.locator("#deployments tbody tr[data-deployment]").first()
          .waitFor({ timeout: UI_TIMEOUT_MS });
        await page.locator("#status.live").waitFor({ timeout: UI_TIMEOUT_MS });
        assert.equal(await page.locator("#deployments tbody tr[data-deployment]").count(), 3);
        if (statsPresent) {
          // The headline cards and the six charts, drawn by uPlot.
          await page.locator("#cards").waitFor({ state: "visible", timeout: UI_TIMEOUT_MS });
          await page.waitForFunction(
            () => document.querySelectorAll("#charts .uplot canvas").length === 6, null,
            { timeout: UI_TIMEOUT_MS });
          assert.equal(await page.locator("#stats-unavailable").isVisible(), false);
        } else {
          await page.locator("#stats-unavailable", { hasText: "Not available" })
            .waitFor({ timeout: UI_TIMEOUT_MS });
          assert.equal(await page.locator("#cards").isHidden(), true);
        }
        if (alertsPresent) {
          await page.locator("#alerts li").first().waitFor({ timeout: UI_TIMEOUT_MS });
          assert.equal(await page.locator("#alerts-unavailable").isVisible(), false);
        } else {
          await page.locator("#alerts-unavailable", { hasText: "Not available" })
            .waitFor({ timeout: UI_TIMEOUT_MS });
        }
        // Nothing wider than the screen: no sideways scrolling on a phone.
        const [scrollWidth, innerWidth] =
          await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
        assert.ok(scrollWidth <= innerWidth, `page is ${scrollWidth}px wide in ${innerWidth}px`);
        // Let a few polls run, so an error on a later one shows too.
        await page.waitForTimeout(2500);
        await page.screenshot({ path: artifactPath(`dashboard-${name}.png`), fullPage: true });
        assert.deepEqual(problems, []);
      } finally {
        await context.close();
      }
    });
  }

  it("shows the traffic: requests and a cache hit rate above zero", async () => {
    // Five prompts, each asked three times: the repeats are cache hits.
    for (let round = 0; round < 3; ++round) {
      for (let i = 0; i < 5; ++i) {
        const res = await chat(base, "fast", `dashboard traffic ${i}`);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("x-sluice-cache"), round === 0 ? "miss" : "hit");
      }
    }
    const { context, page, problems } = await openDashboard(LAPTOP);
    try {
      const fast = page.locator('#deployments tr[data-model="fast"]');
      await fast.waitFor({ timeout: UI_TIMEOUT_MS });
      // Five misses went upstream; the ten hits did not.
      await page.waitForFunction(
        () => document.querySelector('#deployments tr[data-model="fast"] td:nth-child(7)')
          ?.textContent === "5",
        null, { timeout: UI_TIMEOUT_MS });
      if (statsPresent) {
        await page.waitForFunction(() => {
          const requests = Number(document.getElementById("stat-requests").textContent.replace(/,/g, ""));
          const hitRate = parseFloat(document.getElementById("stat-hit-rate").textContent);
          return requests >= 15 && hitRate > 0;
        }, null, { timeout: UI_TIMEOUT_MS });
        // Ten hits of fifteen lookups.
        assert.equal(await page.locator("#stat-hit-rate").textContent(), "66.7%");
        await page.locator("#top-models td", { hasText: "fast" }).first()
          .waitFor({ timeout: UI_TIMEOUT_MS });
      } else {
        assert.equal(await page.locator("#stats-unavailable").isVisible(), true);
      }
      await page.screenshot({ path: artifactPath("dashboard-traffic.png"), fullPage: true });
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it("shows a deployment whose upstream fails as ejected", async () => {
    const faults = await fetch(`http://127.0.0.1:${bad.port}/mock/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ status: 503 }),
    });
    assert.equal(faults.status, 200);
    const { context, page, problems } = await openDashboard(LAPTOP);
    try {
      const badRow = page.locator('#deployments tr[data-model="pair"][data-deployment^="bad/"]');
      await badRow.waitFor({ timeout: UI_TIMEOUT_MS });
      assert.equal(await badRow.locator("td.health").getAttribute("data-state"), "healthy");
      // Distinct prompts, so each one goes upstream; the balancer sends some to `bad`, whose
      // 503s are retried on `good`, until two in a row have ejected it.
      let ejected = false;
      for (let i = 0; i < 60 && !ejected; ++i) {
        const res = await chat(base, "pair", `eject ${i}`);
        assert.equal(res.status, 200);
        const { body } = await json(`${base}/admin/deployments`);
        const pair = body.data.find((m) => m.model === "pair");
        ejected = pair.deployments.some((d) => d.provider === "bad" && d.state === "ejected");
      }
      assert.ok(ejected, "the failing deployment was not ejected after 60 requests");
      await page.waitForFunction(
        () => document.querySelector(
          '#deployments tr[data-model="pair"][data-deployment^="bad/"] td.health')
          ?.dataset.state === "ejected",
        null, { timeout: UI_TIMEOUT_MS });
      assert.equal(await badRow.locator("td.health").textContent(), "ejected");
      assert.match(await badRow.locator("td.health").getAttribute("title"), /^ejected until /);
      const goodRow = page.locator('#deployments tr[data-model="pair"][data-deployment^="good/"]');
      assert.equal(await goodRow.locator("td.health").textContent(), "up");
      await page.screenshot({ path: artifactPath("dashboard-ejected.png"), fullPage: true });
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
      await fetch(`http://127.0.0.1:${bad.port}/mock/faults`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
    }
  });

  describe("over HTTP", () => {
    it("serves the page at /dashboard and /dashboard/, revalidated on every load", async () => {
      for (const path of ["/dashboard", "/dashboard/"]) {
        const res = await plain(`${base}${path}`);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
        assert.equal(res.headers.get("cache-control"), "no-cache");
        assert.match(res.headers.get("etag"), /^"[0-9a-f]{32}"$/);
        assert.equal(res.headers.get("x-content-type-options"), "nosniff");
        const csp = res.headers.get("content-security-policy");
        assert.match(csp, /default-src 'self'/);
        assert.match(csp, /script-src 'self'(;|$)/);  // no 'unsafe-inline'
        const html = await res.text();
        assert.match(html, /<title>Sluice dashboard<\/title>/);
        assert.doesNotMatch(html, /<script>|<style>|\son[a-z]+=/);  // nothing inline for CSP
        assert.match(html, /"\/dashboard\/dashboard\.js\?v=[0-9a-f]{16}"/);
      }
    });

    it("answers If-None-Match with 304 and no body", async () => {
      const first = await plain(`${base}/dashboard/dashboard.css`);
      const etag = first.headers.get("etag");
      await first.arrayBuffer();
      for (const value of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
        const res = await plain(`${base}/dashboard/dashboard.css`, {
          headers: { "if-none-match": value },
        });
        assert.equal(res.status, 304, value);
        assert.equal(res.headers.get("etag"), etag);
        assert.equal(res.headers.get("content-length"), null);
        assert.equal((await res.arrayBuffer()).byteLength, 0);
      }
      const changed = await plain(`${base}/dashboard/dashboard.css`, {
        headers: { "if-none-match": '"0000"' },
      });
      assert.equal(changed.status, 200);
      assert.equal(changed.headers.get("content-type"), "text/css; charset=utf-8");
      assert.ok((await changed.text()).length > 100);
    });

    it("lets a browser keep an asset asked for by its current version", async () => {
      const html = await (await plain(`${base}/dashboard`)).text();
      const src = /"(\/dashboard\/uPlot\.iife\.min\.js\?v=[0-9a-f]{16})"/.exec(html)[1];
      const versioned = await plain(`${base}${src}`);
      assert.equal(versioned.status, 200);
      assert.equal(versioned.headers.get("content-type"), "text/javascript; charset=utf-8");
      assert.equal(versioned.headers.get("cache-control"), "public, max-age=31536000, immutable");
      const body = await versioned.text();
      assert.match(body, /uPlot/);
      for (const other of ["/dashboard/uPlot.iife.min.js", "/dashboard/uPlot.iife.min.js?v=0"]) {
        const res = await plain(`${base}${other}`);
        assert.equal(res.headers.get("cache-control"), "no-cache", other);
        assert.equal(await res.text(), body);
      }
    });

    it("sends text gzipped to a client that accepts it, under its own tag", async () => {
      const identity = await plain(`${base}/dashboard/uPlot.iife.min.js`);
      const text = await identity.text();
      assert.equal(identity.headers.get("content-encoding"), null);
      assert.equal(identity.headers.get("vary"), "accept-encoding");
      const tag = identity.headers.get("etag");
      for (const accept of ["gzip", "gzip, deflate, br, zstd", "*"]) {
        const res = await fetch(`${base}/dashboard/uPlot.iife.min.js`, {
          headers: { "accept-encoding": accept },
        });
        assert.equal(res.headers.get("content-encoding"), "gzip", accept);
        assert.equal(res.headers.get("vary"), "accept-encoding");
        assert.equal(res.headers.get("etag"), tag.replace(/"$/, '-gzip"'));
        // fetch undoes the gzip: the same script, in well under half the bytes.
        assert.ok(Number(res.headers.get("content-length")) * 2 < text.length);
        assert.equal(await res.text(), text);
      }
      const refused = await fetch(`${base}/dashboard/uPlot.iife.min.js`, {
        headers: { "accept-encoding": "gzip;q=0, br" },
      });
      assert.equal(refused.headers.get("content-encoding"), null);
      assert.equal(refused.headers.get("etag"), tag);
      await refused.arrayBuffer();
      // Each form revalidates against its own tag only.
      const gzTag = tag.replace(/"$/, '-gzip"');
      const same = await fetch(`${base}/dashboard/uPlot.iife.min.js`, {
        headers: { "accept-encoding": "gzip", "if-none-match": gzTag },
      });
      assert.equal(same.status, 304);
      assert.equal(same.headers.get("vary"), "accept-encoding");
      const other = await fetch(`${base}/dashboard/uPlot.iife.min.js`, {
        headers: { "accept-encoding": "gzip", "if-none-match": tag },
      });
      assert.equal(other.status, 200);
      await other.arrayBuffer();
    });

    it("serves uPlot's license", async () => {
      const res = await plain(`${base}/dashboard/uPlot.LICENSE.txt`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
      const text = await res.text();
      assert.match(text, /The MIT License/);
      assert.match(text, /Leon Sorokin/);
    });

    it("HEAD gives the headers alone", async () => {
      const get = await plain(`${base}/dashboard/dashboard.js`);
      const length = (await get.arrayBuffer()).byteLength;
      const head = await plain(`${base}/dashboard/dashboard.js`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("content-length"), String(length));
      assert.equal(head.headers.get("etag"), get.headers.get("etag"));
    });

    it("unknown file: 404 in OpenAI's shape; other methods: 405 with Allow", async () => {
      const missing = await json(`${base}/dashboard/nope.js`);
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.type, "invalid_request_error");
      assert.match(missing.body.error.message, /nope\.js/);
      const dir = await json(`${base}/dashboard/sub/dashboard.js`);
      assert.equal(dir.status, 404);
      for (const method of ["POST", "PUT", "DELETE"]) {
        const res = await plain(`${base}/dashboard`, { method });
        assert.equal(res.status, 405, method);
        assert.equal(res.headers.get("allow"), "GET, HEAD");
        const body = await res.json();
        assert.equal(body.error.code, "method_not_allowed");
      }
      const prefix = await plain(`${base}/dashboards`);
      assert.equal(prefix.status, 404);
      await prefix.arrayBuffer();
    });
  });
});

describe("dashboard with an admin key", () => {
  let mock;
  let gateway;
  let base;
  let browser;

  before(async () => {
    mock = await startMock();
    const deadPort = await closedPort();
    gateway = await startGateway(config({ goodPort: mock.port, badPort: deadPort, adminKey: ADMIN_KEY }));
    base = `http://127.0.0.1:${gateway.port}`;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await Promise.all([gateway?.stop(), mock?.stop()]);
  });

  it("serves the page without the key, but not the data", async () => {
    const page = await fetch(`${base}/dashboard`);
    assert.equal(page.status, 200);
    await page.arrayBuffer();
    const data = await json(`${base}/admin/deployments`);
    assert.equal(data.status, 401);
    assert.equal(data.body.error.code, "invalid_api_key");
    const keyed = await json(`${base}/admin/deployments`, { authorization: `Bearer ${ADMIN_KEY}` });
    assert.equal(keyed.status, 200);
  });

  it("asks for the key: a wrong one is refused, the right one shows the data", async () => {
    const context = await browser.newContext({ viewport: LAPTOP });
    const page = await context.newPage();
    // The 401s of the requests made without the key, or with the wrong one, are the point; a
    // missing performance API's 404 is excused as above.
    const problems = watchPage(page, (kind, detail) =>
      (kind === "response" && /^(401|404) .*\/admin\/(deployments|stats|alerts)$/.test(detail)) ||
      (kind === "console" && /Failed to load resource: .*status of (401|404)/.test(detail)));
    const keyHeaders = [];
    page.on("request", (req) => {
      if (new URL(req.url()).pathname.startsWith("/admin/")) {
        keyHeaders.push(req.headers().authorization ?? null);
      }
    });
    try {
      assert.equal((await page.goto(`${base}/dashboard`)).status(), 200);
      const form = page.locator("#key-form");
      await form.waitFor({ state: "visible", timeout: UI_TIMEOUT_MS });
      assert.equal(await page.locator("#deployments").isVisible(), false);
      assert.equal(await page.locator("#key-error").isVisible(), false);

      await page.fill("#key-input", "sk-not-the-key");
      await page.click("#key-form button[type=submit]");
      await page.locator("#key-error", { hasText: "did not accept" })
        .waitFor({ timeout: UI_TIMEOUT_MS });
      assert.equal(await form.isVisible(), true);
      assert.equal(await page.evaluate(() => sessionStorage.getItem("sluice.adminKey")), null);
      assert.ok(keyHeaders.includes("Bearer sk-not-the-key"));

      await page.fill("#key-input", ADMIN_KEY);
      await page.press("#key-input", "Enter");
      await page.locator("#deployments tbody tr[data-deployment]").first()
        .waitFor({ timeout: UI_TIMEOUT_MS });
      assert.equal(await form.isVisible(), false);
      assert.equal(await page.locator("#forget-key").isVisible(), true);
      assert.equal(await page.evaluate(() => sessionStorage.getItem("sluice.adminKey")), ADMIN_KEY);
      assert.ok(keyHeaders.includes(`Bearer ${ADMIN_KEY}`));
      await page.screenshot({ path: artifactPath("dashboard-key.png"), fullPage: true });

      // The key lasts for the tab: a reload goes straight to the data.
      const asked = keyHeaders.length;
      await page.reload();
      await page.locator("#deployments tbody tr[data-deployment]").first()
        .waitFor({ timeout: UI_TIMEOUT_MS });
      await page.waitForTimeout(1500);
      assert.equal(await form.isVisible(), false);
      assert.ok(keyHeaders.slice(asked).every((h) => h === `Bearer ${ADMIN_KEY}`));
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
