// Chat completions through the gateway with the official OpenAI Node client: plain, streamed,
// with the client's stream helper, against the remote mock upstream ("fast") and the in-process
// simulated provider ("local-sim").

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { collectStream, startStack } from "./helpers.mjs";

const messages = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "Say something about rivers." },
];

describe("chat completions", () => {
  let stack;
  let client;

  before(async () => {
    stack = await startStack();
    client = stack.client();
  });
  after(async () => {
    await stack?.stop();
  });

  it("answers a plain request, under the upstream model name", async () => {
    const res = await client.chat.completions.create({ model: "fast", messages, max_tokens: 10 });
    assert.equal(res.object, "chat.completion");
    assert.equal(res.model, "llama-3.1-8b", "the alias is rewritten to the deployment's model");
    assert.equal(res.choices.length, 1);
    assert.equal(res.choices[0].message.role, "assistant");
    assert.equal(typeof res.choices[0].message.content, "string");
    assert.ok(res.choices[0].message.content.length > 0, "non-empty answer");
    assert.ok(res.usage.completion_tokens > 0);
    assert.ok(res.usage.completion_tokens <= 10, "max_tokens is honoured");
    assert.equal(res.usage.total_tokens, res.usage.prompt_tokens + res.usage.completion_tokens);
  });

  it("streams the same answer as the plain request, with a final usage chunk", async () => {
    const body = { model: "fast", messages, max_tokens: 10 };
    const plain = await client.chat.completions.create(body);

    const stream = await client.chat.completions.create({
      ...body,
      stream: true,
      stream_options: { include_usage: true },
    });
    const { content, chunks } = await collectStream(stream);

    assert.ok(chunks.length > 2, `several chunks, got ${chunks.length}`);
    for (const chunk of chunks) {
      assert.equal(chunk.object, "chat.completion.chunk");
      assert.equal(chunk.model, "llama-3.1-8b");
    }
    assert.equal(content, plain.choices[0].message.content);

    const last = chunks.at(-1);
    assert.deepEqual(last.choices, [], "the usage chunk has no choices");
    assert.ok(last.usage, "the last chunk carries usage");
    assert.equal(last.usage.completion_tokens, plain.usage.completion_tokens);
    assert.equal(last.usage.prompt_tokens, plain.usage.prompt_tokens);

    const finishes = chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter(Boolean);
    assert.deepEqual(finishes, [plain.choices[0].finish_reason], "one finish_reason, as non-stream");
  });

  it("works with the client's stream helper", async () => {
    const body = { model: "fast", messages, max_tokens: 12 };
    const plain = await client.chat.completions.create(body);

    let fromEvents = "";
    const runner = client.chat.completions.stream(body);
    runner.on("content", (delta) => {
      fromEvents += delta;
    });
    const final = await runner.finalChatCompletion();

    assert.equal(fromEvents, plain.choices[0].message.content);
    assert.equal(final.choices[0].message.content, plain.choices[0].message.content);
    assert.equal(final.choices[0].finish_reason, plain.choices[0].finish_reason);
    assert.equal(final.model, "llama-3.1-8b");
  });

  it("exposes the HTTP response through withResponse()", async () => {
    const { data, response, request_id } = await client.chat.completions
      .create({ model: "fast", messages, max_tokens: 5 })
      .withResponse();
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type"), /^application\/json/);
    assert.match(request_id ?? "", /^req_/, "the gateway's x-request-id reaches the client");
    assert.equal(data.object, "chat.completion");
  });

  it("serves the in-process simulated model without streaming", async () => {
    const res = await client.chat.completions.create({
      model: "local-sim",
      messages,
      max_tokens: 8,
    });
    assert.equal(res.object, "chat.completion");
    assert.equal(res.model, "local-sim", "no deployment model: the client's name is kept");
    assert.ok(res.choices[0].message.content.length > 0);
    assert.ok(res.usage.completion_tokens > 0 && res.usage.completion_tokens <= 8);
  });

  it("streams from the in-process simulated model", async () => {
    const body = { model: "local-sim", messages, max_tokens: 8 };
    const plain = await client.chat.completions.create(body);
    const stream = await client.chat.completions.create({
      ...body,
      stream: true,
      stream_options: { include_usage: true },
    });
    const { content, chunks } = await collectStream(stream);
    assert.ok(content.length > 0);
    assert.equal(content, plain.choices[0].message.content);
    assert.equal(chunks.at(-1).usage?.completion_tokens, plain.usage.completion_tokens);
  });
});
