// Shared set-up for the end-to-end tests: starts real `sluice mock` and `sluice serve` processes
// on ephemeral loopback ports and builds OpenAI clients pointed at the gateway.
//
// Every process started here is tracked; stop() ends it (SIGTERM, then SIGKILL after 3 s), and
// any process still alive when this test file's Node process exits or is interrupted is killed,
// so a failing or aborted test never leaves a gateway behind. The child processes do not keep
// Node's event loop alive, so a test that forgets to stop them (or times out) still lets its
// file's process exit, which kills them.

import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import OpenAI from "openai";

const STARTUP_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 3_000;
const LOG_LIMIT = 64 * 1024;  // bytes of each process's output kept for failure messages

export const SLUICE_BINARY =
  process.env.SLUICE_BINARY || fileURLToPath(new URL("../../build/release/sluice", import.meta.url));

// ---------------------------------------------------------------------------------------------
// Process tracking and clean-up

const live = new Set();     // SluiceProcess instances not yet known to have exited
const tmpdirs = new Set();  // configuration directories not yet removed

function removeTmpdir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  tmpdirs.delete(dir);
}

function killAllNow() {
  for (const p of live) {
    try {
      p.child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const dir of tmpdirs) {
    try {
      removeTmpdir(dir);
    } catch {
      // best effort
    }
  }
}

// 'exit' handlers must be synchronous: SIGKILL is the only thing that is certain to work.
process.on("exit", killAllNow);
// On an interrupt, kill the children, then die of the same signal as we would have without
// this handler (`once` removes it before re-raising).
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(sig, () => {
    killAllNow();
    process.kill(process.pid, sig);
  });
}

class SluiceProcess {
  constructor(name, args) {
    this.name = name;
    this.args = args;
    this.output = "";
    this.exited = false;
    this.exitInfo = null;
    this.child = spawn(SLUICE_BINARY, args, { stdio: ["ignore", "pipe", "pipe"] });
    live.add(this);
    // Keep draining both pipes for the whole life of the process: a full pipe would block the
    // gateway's logging and with it the requests under test.
    const append = (chunk) => {
      this.output += chunk.toString("utf8");
      if (this.output.length > LOG_LIMIT) this.output = this.output.slice(-LOG_LIMIT);
    };
    this.child.stdout.on("data", append);
    this.child.stderr.on("data", append);
    this.child.unref();
    this.child.stdout.unref();
    this.child.stderr.unref();
    this.exitPromise = new Promise((resolve) => {
      this.child.once("error", (err) => {
        this.spawnError = err;
        this.exited = true;
        live.delete(this);
        resolve();
      });
      this.child.once("exit", (code, signal) => {
        this.exited = true;
        this.exitInfo = { code, signal };
        live.delete(this);
        resolve();
      });
    });
  }

  describe() {
    return `${this.name} (${SLUICE_BINARY} ${this.args.join(" ")})`;
  }

  // Resolves with the port from the "listening on http://127.0.0.1:PORT" log line.
  waitForPort() {
    const re = /listening on http:\/\/127\.0\.0\.1:(\d+)/;
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.child.stdout.off("data", check);
        this.child.stderr.off("data", check);
        this.child.off("exit", onExit);
        this.child.off("error", onError);
      };
      const check = () => {
        const m = re.exec(this.output);
        if (m) {
          cleanup();
          resolve(Number(m[1]));
        }
      };
      const onExit = (code, signal) => {
        cleanup();
        reject(new Error(`${this.describe()} exited (code ${code}, signal ${signal}) ` +
                         `before listening; output:\n${this.output}`));
      };
      const onError = (err) => {
        cleanup();
        reject(new Error(`cannot start ${this.describe()}: ${err.message}` +
                         (err.code === "ENOENT" ? " (build it, or set SLUICE_BINARY)" : "")));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.describe()} did not report its port within ` +
                         `${STARTUP_TIMEOUT_MS} ms; output:\n${this.output}`));
      }, STARTUP_TIMEOUT_MS);
      this.child.stdout.on("data", check);
      this.child.stderr.on("data", check);
      this.child.on("exit", onExit);
      this.child.on("error", onError);
      check();  // the line may already be there
    });
  }

  // Resolves with { code, signal } once the process has exited, or null after `ms`.
  async waitForExit(ms) {
    if (!this.exited) {
      this.child.ref();
      let timer;
      await Promise.race([
        this.exitPromise,
        new Promise((resolve) => {
          timer = setTimeout(resolve, ms);
        }),
      ]);
      clearTimeout(timer);
      if (!this.exited) this.child.unref();
    }
    return this.exited ? this.exitInfo : null;
  }

  // Sends `sig` (default SIGTERM) and returns at once.
  signal(sig = "SIGTERM") {
    if (!this.exited) this.child.kill(sig);
  }

  // SIGKILL, and wait for the exit.
  async kill() {
    if (this.exited) return;
    this.child.ref();
    this.child.kill("SIGKILL");
    await this.exitPromise;
  }

  // SIGTERM, then SIGKILL if the process is still alive after STOP_GRACE_MS.
  async stop() {
    if (this.exited) return;
    this.child.ref();  // keep the event loop alive until the exit is seen
    this.child.kill("SIGTERM");
    let timer;
    const timedOut = new Promise((resolve) => {
      timer = setTimeout(() => resolve(true), STOP_GRACE_MS);
    });
    const late = await Promise.race([this.exitPromise.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late && !this.exited) {
      process.stderr.write(`${this.describe()} still running ${STOP_GRACE_MS} ms after SIGTERM; ` +
                           `sending SIGKILL. Recent output:\n${this.output}\n`);
      this.child.kill("SIGKILL");
      await this.exitPromise;
    }
  }
}

async function startProcess(name, args) {
  const p = new SluiceProcess(name, args);
  try {
    p.port = await p.waitForPort();
  } catch (err) {
    await p.stop();
    throw err;
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Public helpers

// A loopback port that nothing listens on (bound once, then released).
export function closedPort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// `sluice mock --listen 127.0.0.1:0`
export function startMock() {
  return startProcess("sluice mock", ["mock", "--listen", "127.0.0.1:0"]);
}

// `sluice serve -c <dir>/sluice.yaml --listen 127.0.0.1:0`, with `yaml` as the configuration.
export async function startGateway(yaml) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-e2e-"));
  tmpdirs.add(dir);
  const file = path.join(dir, "sluice.yaml");
  fs.writeFileSync(file, yaml);
  try {
    const p = await startProcess("sluice serve", ["serve", "-c", file, "--listen", "127.0.0.1:0"]);
    p.tmpdir = dir;
    return p;
  } catch (err) {
    removeTmpdir(dir);
    throw err;
  }
}

// The configuration the tests run against:
//   fast      -> the `sluice mock` upstream, asked for "llama-3.1-8b" (x-mock-* headers forwarded)
//   local-sim -> the in-process simulated provider
//   broken    -> an upstream on a closed port (connection refused)
//   impatient -> the same mock upstream, with 500 ms first-byte and idle timeouts
export function gatewayConfig({ mockPort, deadPort }) {
  return `\
providers:
  - name: up
    kind: openai
    base_url: http://127.0.0.1:${mockPort}/v1
    forward_headers: [x-mock-*]
  - name: sim
    kind: mock
  - name: dead
    kind: openai
    base_url: http://127.0.0.1:${deadPort}/v1
  - name: up-impatient
    kind: openai
    base_url: http://127.0.0.1:${mockPort}/v1
    forward_headers: [x-mock-*]
    timeouts: {first_byte: 500ms, idle: 500ms}
models:
  - name: fast
    deployments: [{provider: up, model: llama-3.1-8b}]
  - name: local-sim
    deployments: [{provider: sim}]
  - name: broken
    deployments: [{provider: dead}]
  - name: impatient
    deployments: [{provider: up-impatient, model: llama-3.1-8b}]
`;
}

// Starts the mock upstream and a gateway in front of it. Call stop() in an after() hook; it is
// safe to call more than once, and after a partial start.
export async function startStack() {
  const stack = {
    mock: null,
    gateway: null,
    baseURL: null,
    client(options = {}) {
      return new OpenAI({ baseURL: this.baseURL, apiKey: "sk-test", maxRetries: 0, ...options });
    },
    // Recent output of both processes, for assertion messages.
    logs() {
      return [this.mock, this.gateway]
        .filter(Boolean)
        .map((p) => `--- ${p.name} ---\n${p.output}`)
        .join("\n");
    },
    async stop() {
      await Promise.all([this.gateway?.stop(), this.mock?.stop()]);
      if (this.gateway?.tmpdir) removeTmpdir(this.gateway.tmpdir);
    },
  };
  try {
    stack.mock = await startMock();
    const deadPort = await closedPort();
    stack.gateway = await startGateway(gatewayConfig({ mockPort: stack.mock.port, deadPort }));
    stack.baseURL = `http://127.0.0.1:${stack.gateway.port}/v1`;
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return stack;
}

// Collects a streamed chat completion: the concatenated content deltas and every chunk.
export async function collectStream(stream) {
  let content = "";
  const chunks = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
    for (const choice of chunk.choices ?? []) content += choice.delta?.content ?? "";
  }
  return { content, chunks };
}

export { OpenAI };
