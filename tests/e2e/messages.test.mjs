// Anthropic's Messages API in front: the official @anthropic-ai/sdk Node client against the
// gateway's /v1/messages, served by an OpenAI-kind model (the `sluice mock` upstream behind
// "fast"): plain and streamed answers, tools, and errors in Anthropic's shape.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import Anthropic from "@anthropic-ai/sdk";

import { startStack } from "./helpers.mjs";

const weather = {
  name: "get_weather",
  description: "The weather in a city",
  input_schema: {
    type: "object",
    properties: { city: { type: "string" }, unit: { type: "string", enum: ["c", "f"] } },
    required: ["city"],
  },
};

describe("Anthropic Messages API in front", () => {
  let stack;
  let client;

  before(async () => {
    stack = await startStack();
    client = new Anthropic({
      baseURL: stack.baseURL.replace(/\/v1$/, ""),
      apiKey: "sk-test",
      maxRetries: 0,
    });
  });
  after(async () => {
    await stack?.stop();
  });

  const ask = {
    model: "fast",
    max_tokens: 12,
    system: "You are terse.",
    messages: [{ role: "user", content: "Say something about rivers." }],
  };

  it("answers a plain request as an Anthropic message", async () => {
    const msg = await client.messages.create(ask);
    assert.equal(msg.type, "message");
    assert.equal(msg.role, "assistant");
    assert.match(msg.id, /^msg_/);
    assert.equal(msg.content.length, 1);
    assert.equal(msg.content[0].type, "text");
    assert.ok(msg.content[0].text.length > 0, "non-empty text");
    assert.ok(["end_turn", "max_tokens"].includes(msg.stop_reason), msg.stop_reason);
    assert.ok(msg.usage.input_tokens > 0, "input tokens counted");
    assert.ok(msg.usage.output_tokens > 0 && msg.usage.output_tokens <= 12, "max_tokens honoured");
  });

  it("streams the same answer, which the SDK's accumulator assembles", async () => {
    const plain = await client.messages.create(ask);
    const events = [];
    const stream = client.messages.stream(ask);
    stream.on("streamEvent", (e) => events.push(e.type));
    const final = await stream.finalMessage();
    assert.equal(final.content[0].text, plain.content[0].text);
    assert.equal(final.stop_reason, plain.stop_reason);
    assert.equal(final.usage.output_tokens, plain.usage.output_tokens);
    assert.equal(events[0], "message_start");
    assert.equal(events.at(-1), "message_stop");
    assert.ok(events.includes("content_block_delta"), events.join(","));
    assert.ok(events.includes("message_delta"), events.join(","));
  });

  it("calls a tool, plain and streamed, and takes its result back", async () => {
    const body = {
      model: "fast",
      max_tokens: 50,
      tools: [weather],
      tool_choice: { type: "tool", name: "get_weather" },
      messages: [{ role: "user", content: "Weather in Oslo?" }],
    };
    const msg = await client.messages.create(body);
    assert.equal(msg.stop_reason, "tool_use");
    const use = msg.content.find((b) => b.type === "tool_use");
    assert.ok(use, JSON.stringify(msg.content));
    assert.equal(use.name, "get_weather");
    assert.equal(typeof use.input.city, "string", JSON.stringify(use.input));

    const streamed = await client.messages.stream(body).finalMessage();
    const streamedUse = streamed.content.find((b) => b.type === "tool_use");
    assert.deepEqual(streamedUse.input, use.input, "partial_json assembles into the same input");
    assert.equal(streamedUse.id, use.id);

    const followUp = await client.messages.create({
      model: "fast",
      max_tokens: 12,
      tools: [weather],
      messages: [
        ...body.messages,
        { role: "assistant", content: msg.content },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: use.id, content: "12 degrees, rain" }],
        },
      ],
    });
    assert.equal(followUp.content[0].type, "text");
    assert.notEqual(followUp.stop_reason, "tool_use");
  });

  it("says what is wrong in Anthropic's error shape", async () => {
    await assert.rejects(
      client.messages.create({ ...ask, model: "no-such-model" }),
      (err) => {
        assert.ok(err instanceof Anthropic.NotFoundError, String(err));
        assert.equal(err.error.type, "error");
        assert.equal(err.error.error.type, "not_found_error");
        assert.match(err.error.error.message, /no-such-model/);
        return true;
      },
    );
    const { max_tokens: _, ...noMax } = ask;
    await assert.rejects(client.messages.create(noMax), (err) => {
      assert.ok(err instanceof Anthropic.BadRequestError, String(err));
      assert.equal(err.error.error.type, "invalid_request_error");
      assert.match(err.error.error.message, /max_tokens/);
      return true;
    });
    // An upstream that cannot be reached is a gateway error, still in the client's shape.
    await assert.rejects(client.messages.create({ ...ask, model: "broken" }), (err) => {
      assert.ok(err.status >= 500, String(err));
      assert.equal(err.error.type, "error");
      return true;
    });
  });
});
