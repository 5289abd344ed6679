// Headless Chromium for the dashboard tests, driven by playwright-core (tests/e2e/package.json).
// The browser is Debian's chromium package (scripts/install-deps installs it): playwright-core
// brings none and nothing is downloaded. Each launch gets a fresh profile directory, which
// Playwright creates and removes.
//
// Screenshots go to SLUICE_TEST_ARTIFACTS, or test-artifacts/ beside the sluice binary under
// test (build/<preset>/test-artifacts), never into the source tree.

import fs from "node:fs";
import path from "node:path";

import { chromium } from "playwright-core";

import { SLUICE_BINARY } from "./helpers.mjs";

export const CHROMIUM = process.env.SLUICE_CHROMIUM || "/usr/bin/chromium";

export const ARTIFACTS =
  process.env.SLUICE_TEST_ARTIFACTS || path.join(path.dirname(SLUICE_BINARY), "test-artifacts");

// Everything that makes Chromium talk to anything but the page's own origin is off.
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launchChromium() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run scripts/install-deps (Debian's chromium package)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30_000 });
}

// Where a screenshot called `name` goes; the directory is made if missing.
export function artifactPath(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}

// Records what a user (or a developer's console) would see go wrong on a page: console errors,
// uncaught exceptions, requests that failed at the network level and answers with an error
// status. `allow(kind, detail)` may excuse one that the test expects.
export function watchPage(page, allow = () => false) {
  const problems = [];
  const note = (kind, detail) => {
    if (!allow(kind, detail)) problems.push(`${kind}: ${detail}`);
  };
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") {
      note("console", `${msg.type()} ${msg.text()} (${msg.location()?.url ?? ""})`);
    }
  });
  page.on("pageerror", (err) => note("pageerror", err.stack || err.message));
  page.on("requestfailed", (req) => note("requestfailed", `${req.url()} ${req.failure()?.errorText}`));
  page.on("response", (res) => {
    if (res.status() >= 400) note("response", `${res.status()} ${res.url()}`);
  });
  return problems;
}
