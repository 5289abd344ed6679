// The OpenAI Batch API on the server (docs/batch.md, "Batch API on the server") driven by the
// official OpenAI Node client: files.create with toFile, batches.create, batches.retrieve until
// the batch completes, files.content as text, batches.cancel on a second batch, and the client's
// own error classes for what the API refuses.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { toFile } from "openai";

import { OpenAI, startGateway, startMock } from "./helpers.mjs";

const FINISHED = new Set(["completed", "failed", "cancelled", "expired"]);

function lines(n, prefix) {
  let text = "";
  for (let i = 0; i < n; i += 1) {
    text += `${JSON.stringify({
      custom_id: `${prefix}-${i}`,
      method: "POST",
      url: "/v1/chat/completions",
      body: {
        model: "fast",
        max_tokens: 8,
        messages: [{ role: "user", content: `Question ${i}` }],
      },
    })}\n`;
  }
  return text;
}

// Polls batches.retrieve until `done(batch)`, for at most `ms`.
async function poll(client, id, done, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const batch = await client.batches.retrieve(id);
    if (done(batch)) return batch;
    if (Date.now() > deadline) {
      throw new Error(`batch ${id} still ${batch.status} after ${ms} ms: ${JSON.stringify(batch)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// The output lines of a results file by custom_id; a custom_id twice fails.
function byCustomId(text) {
  const out = new Map();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const o = JSON.parse(line);
    assert.ok(!out.has(o.custom_id), `custom_id ${o.custom_id} twice`);
    out.set(o.custom_id, o);
  }
  return out;
}

describe("the Batch API, with the official client", () => {
  let mock;
  let gateway;
  let dataDir;
  let client;

  before(async () => {
    mock = await startMock();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-e2e-data-"));
    gateway = await startGateway(`\
data_dir: ${dataDir}
batch: {concurrency: 2}
providers:
  - name: up
    kind: openai
    base_url: http://127.0.0.1:${mock.port}/v1
models:
  - name: fast
    deployments: [{provider: up, model: llama-3.1-8b}]
`);
    client = new OpenAI({
      baseURL: `http://127.0.0.1:${gateway.port}/v1`,
      apiKey: "sk-test",
      maxRetries: 0,
    });
  });
  after(async () => {
    await Promise.all([gateway?.stop(), mock?.stop()]);
    if (gateway?.tmpdir) fs.rmSync(gateway.tmpdir, { recursive: true, force: true });
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("uploads a file, runs the batch, polls it and downloads the output", async () => {
    const input = lines(12, "q");
    const file = await client.files.create({
      file: await toFile(Buffer.from(input), "questions.jsonl"),
      purpose: "batch",
    });
    assert.equal(file.object, "file");
    assert.match(file.id, /^file-/);
    assert.equal(file.purpose, "batch");
    assert.equal(file.filename, "questions.jsonl");
    assert.equal(file.bytes, Buffer.byteLength(input));
    assert.equal(file.status, "processed");
    assert.equal(await (await client.files.content(file.id)).text(), input);

    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: { run: "e2e" },
    });
    assert.equal(created.object, "batch");
    assert.equal(created.status, "validating");
    assert.deepEqual(created.metadata, { run: "e2e" });

    const batch = await poll(client, created.id, (b) => FINISHED.has(b.status));
    assert.equal(batch.status, "completed", JSON.stringify(batch));
    assert.deepEqual(batch.request_counts, { total: 12, completed: 12, failed: 0 });
    assert.equal(batch.error_file_id, null);
    assert.ok(batch.completed_at >= batch.in_progress_at);

    const output = byCustomId(await (await client.files.content(batch.output_file_id)).text());
    assert.equal(output.size, 12);
    for (let i = 0; i < 12; i += 1) {
      const line = output.get(`q-${i}`);
      assert.ok(line, `q-${i} is in the output`);
      assert.match(line.id, /^batch_req_/);
      assert.equal(line.error, null);
      assert.equal(line.response.status_code, 200);
      assert.equal(line.response.body.object, "chat.completion");
      assert.equal(line.response.body.model, "llama-3.1-8b");
      assert.ok(line.response.body.choices[0].message.content.length > 0);
    }

    // The lists paginate as the client expects, and hold what was made.
    const files = [];
    for await (const f of client.files.list()) files.push(f.id);
    assert.ok(files.includes(file.id) && files.includes(batch.output_file_id));
    const outputFile = await client.files.retrieve(batch.output_file_id);
    assert.equal(outputFile.purpose, "batch_output");
    const batches = [];
    for await (const b of client.batches.list({ limit: 1 })) batches.push(b.id);
    assert.ok(batches.includes(batch.id));
  });

  it("cancels a running batch, keeping what it did", async () => {
    // Every answer takes 150 ms, so 60 lines two at a time take seconds: time to cancel.
    const set = await fetch(`http://127.0.0.1:${mock.port}/mock/faults`, {
      method: "POST",
      body: JSON.stringify({ delay_ms: 150 }),
    });
    assert.equal(set.status, 200);
    try {
      const file = await client.files.create({
        file: await toFile(Buffer.from(lines(60, "c")), "slow.jsonl"),
        purpose: "batch",
      });
      const created = await client.batches.create({
        input_file_id: file.id,
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
      });
      await poll(client, created.id, (b) => b.request_counts.completed >= 2);
      const cancelling = await client.batches.cancel(created.id);
      assert.equal(cancelling.status, "cancelling");
      assert.ok(cancelling.cancelling_at > 0);

      const batch = await poll(client, created.id, (b) => FINISHED.has(b.status), 10_000);
      assert.equal(batch.status, "cancelled");
      assert.ok(batch.cancelled_at >= batch.cancelling_at);
      const done = batch.request_counts.completed;
      assert.ok(done >= 2 && done < 60, `${done} of 60 done`);
      const output = byCustomId(await (await client.files.content(batch.output_file_id)).text());
      assert.equal(output.size, done, "the output holds what was done");

      // A finished batch cannot be cancelled: 409, as the client's ConflictError.
      await assert.rejects(client.batches.cancel(created.id), OpenAI.ConflictError);
    } finally {
      await fetch(`http://127.0.0.1:${mock.port}/mock/faults`, { method: "POST", body: "{}" });
    }
  });

  it("refuses what OpenAI refuses, with the error classes the client knows", async () => {
    await assert.rejects(client.batches.retrieve("batch_000000000000000000000000"), (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError);
      assert.equal(err.status, 404);
      return true;
    });
    await assert.rejects(
      client.files.retrieve("file-000000000000000000000000"),
      OpenAI.NotFoundError,
    );
    const upload = await toFile(Buffer.from("{}\n"), "x.jsonl");
    await assert.rejects(
      client.files.create({ file: upload, purpose: "fine-tune" }),
      (err) => {
        assert.ok(err instanceof OpenAI.BadRequestError);
        assert.equal(err.param, "purpose");
        return true;
      },
    );
    const file = await client.files.create({
      file: await toFile(Buffer.from(lines(1, "e")), "one.jsonl"),
      purpose: "batch",
    });
    await assert.rejects(
      client.batches.create({
        input_file_id: file.id,
        endpoint: "/v1/chat/completions",
        completion_window: "1h",
      }),
      (err) => err instanceof OpenAI.BadRequestError && err.param === "completion_window",
    );
    const deleted = await client.files.delete(file.id);
    assert.deepEqual(deleted, { id: file.id, object: "file", deleted: true });
    await assert.rejects(client.files.retrieve(file.id), OpenAI.NotFoundError);
  });
});
