// Embeddings (the client's default base64 encoding, decoded by the client) and the model list.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { OpenAI, startStack } from "./helpers.mjs";

const norm = (v) => Math.sqrt(v.reduce((sum, x) => sum + x * x, 0));

describe("embeddings and models", () => {
  let stack;
  let client;

  before(async () => {
    stack = await startStack();
    client = stack.client();
  });
  after(async () => {
    await stack?.stop();
  });

  it("returns unit-length embeddings of the requested size (base64 by default)", async () => {
    const res = await client.embeddings.create({ model: "fast", input: ["a", "b"], dimensions: 16 });
    assert.equal(res.object, "list");
    assert.equal(res.data.length, 2);
    res.data.forEach((item, i) => {
      assert.equal(item.index, i);
      assert.ok(Array.isArray(item.embedding), "the client decoded the base64 vector");
      assert.equal(item.embedding.length, 16);
      assert.ok(item.embedding.every(Number.isFinite));
      assert.ok(Math.abs(norm(item.embedding) - 1) < 1e-5, `unit length, got ${norm(item.embedding)}`);
    });
    assert.notDeepEqual(res.data[0].embedding, res.data[1].embedding, "different inputs differ");
    assert.ok(res.usage.prompt_tokens > 0);
  });

  it("returns the same vectors as float when asked for floats", async () => {
    const body = { model: "fast", input: ["a", "b"], dimensions: 16 };
    const b64 = await client.embeddings.create(body);
    const floats = await client.embeddings.create({ ...body, encoding_format: "float" });
    floats.data.forEach((item, i) => {
      assert.equal(item.embedding.length, 16);
      item.embedding.forEach((x, j) => {
        // base64 carries float32; the JSON floats may carry more digits.
        assert.ok(Math.abs(x - b64.data[i].embedding[j]) < 1e-6, `vector ${i}[${j}]`);
      });
    });
  });

  it("lists every configured model", async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    for (const id of ["fast", "local-sim", "broken"]) assert.ok(ids.includes(id), `${id} in ${ids}`);
    for (const m of page.data) assert.equal(m.object, "model");

    const iterated = [];
    for await (const m of client.models.list()) iterated.push(m.id);
    assert.deepEqual(iterated.sort(), [...ids].sort(), "auto-pagination sees the same list");
  });

  it("retrieves a model by name", async () => {
    const model = await client.models.retrieve("fast");
    assert.equal(model.id, "fast");
    assert.equal(model.object, "model");
  });

  it("answers NotFoundError for an unknown model", async () => {
    await assert.rejects(client.models.retrieve("nope"), (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `NotFoundError, got ${err?.constructor?.name}`);
      assert.equal(err.status, 404);
      return true;
    });
  });
});
