// The official OpenAI Node client against models whose providers are not OpenAI-compatible: a
// `kind: anthropic` and a `kind: gemini` provider, each pointed at a local server that replays
// the vendor's recorded answers and streams byte for byte (tests/golden/), so what the client
// sees is the gateway's translation of the vendor's exact wire format.

import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import { after, before, describe, it } from "node:test";

import { OpenAI, collectStream, startGateway } from "./helpers.mjs";

const golden = (name) => fs.readFileSync(new URL(`../golden/${name}`, import.meta.url));

// Answers like the vendor: Anthropic's /v1/messages and Gemini's models/{m}:method.
function startVendor() {
  const seen = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      seen.push({ url: req.url, headers: req.headers, body: JSON.parse(body) });
      let file;
      let type = "application/json";
      if (req.url === "/v1/messages") {
        const parsed = JSON.parse(body);
        const tools = (parsed.tools ?? []).length > 0;
        if (parsed.stream) {
          file = tools ? "anthropic/stream_tool_use.sse" : "anthropic/stream_text.sse";
          type = "text/event-stream";
        } else {
          file = tools ? "anthropic/message_tool_use.json" : "anthropic/message_text.json";
        }
      } else if (req.url.endsWith(":streamGenerateContent?alt=sse")) {
        file = "gemini/text-stream.sse";
        type = "text/event-stream";
      } else if (req.url.endsWith(":generateContent")) {
        file = "gemini/text-answer.json";
      } else {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": type });
      res.end(golden(file));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve({ server, seen, port: server.address().port }));
  });
}

describe("OpenAI client against translated providers", () => {
  let vendor;
  let gateway;
  let client;

  before(async () => {
    vendor = await startVendor();
    gateway = await startGateway(`\
providers:
  - name: claude
    kind: anthropic
    base_url: http://127.0.0.1:${vendor.port}
    api_key: sk-ant-test
  - name: gem
    kind: gemini
    base_url: http://127.0.0.1:${vendor.port}/v1beta
    api_key: g-test
models:
  - name: claude
    deployments: [{provider: claude, model: claude-sonnet-4-5}]
  - name: flash
    deployments: [{provider: gem, model: gemini-2.0-flash}]
`);
    client = new OpenAI({
      baseURL: `http://127.0.0.1:${gateway.port}/v1`,
      apiKey: "sk-test",
      maxRetries: 0,
    });
  });
  after(async () => {
    await gateway?.stop();
    vendor?.server.close();
  });

  const expected = (name) => JSON.parse(golden(name));

  it("gets Anthropic's answer as a chat completion", async () => {
    const res = await client.chat.completions.create({
      model: "claude",
      messages: [{ role: "user", content: "Hello" }],
    });
    const want = expected("anthropic/message_text.expected.json");
    assert.equal(res.object, "chat.completion");
    assert.equal(res.choices[0].message.content, want.choices[0].message.content);
    assert.equal(res.choices[0].finish_reason, want.choices[0].finish_reason);
    assert.deepEqual(res.usage, want.usage);
    const sent = vendor.seen.at(-1);
    assert.equal(sent.headers["x-api-key"], "sk-ant-test");
    assert.equal(sent.headers["anthropic-version"], "2023-06-01");
    assert.equal(sent.body.model, "claude-sonnet-4-5");
  });

  it("streams Anthropic's events as chunks, with usage", async () => {
    const stream = await client.chat.completions.create({
      model: "claude",
      messages: [{ role: "user", content: "Hello" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const { content, chunks } = await collectStream(stream);
    const want = fs.readFileSync(
      new URL("../golden/anthropic/stream_text.usage.expected.sse", import.meta.url), "utf8");
    let wantContent = "";
    for (const line of want.split("\n")) {
      if (!line.startsWith("data: {")) continue;
      for (const c of JSON.parse(line.slice(6)).choices) wantContent += c.delta?.content ?? "";
    }
    assert.ok(content.length > 0);
    assert.equal(content, wantContent);
    assert.ok(chunks.at(-1).usage?.completion_tokens > 0, "the usage chunk comes last");
  });

  it("streams Anthropic's tool use as tool_calls deltas the client assembles", async () => {
    const runner = client.chat.completions.stream({
      model: "claude",
      messages: [{ role: "user", content: "Weather in San Francisco?" }],
      tools: [{
        type: "function",
        function: {
          name: "get_weather",
          parameters: { type: "object", properties: { location: { type: "string" } } },
        },
      }],
    });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0].message.tool_calls?.[0];
    assert.ok(call, JSON.stringify(final.choices[0].message));
    assert.equal(call.type, "function");
    assert.ok(call.function.name.length > 0);
    assert.equal(typeof JSON.parse(call.function.arguments), "object");
    assert.equal(final.choices[0].finish_reason, "tool_calls");
  });

  it("gets Gemini's answer and stream as OpenAI's", async () => {
    const res = await client.chat.completions.create({
      model: "flash",
      messages: [{ role: "user", content: "Hello" }],
    });
    const want = expected("gemini/text-answer.expected.json");
    assert.equal(res.choices[0].message.content, want.choices[0].message.content);
    assert.deepEqual(res.usage, want.usage);
    assert.equal(vendor.seen.at(-1).headers["x-goog-api-key"], "g-test");

    const stream = await client.chat.completions.create({
      model: "flash",
      messages: [{ role: "user", content: "Hello" }],
      stream: true,
    });
    const { content } = await collectStream(stream);
    // The same answer given whole, in Gemini's shape.
    const whole = expected("gemini/text-stream.answer.json");
    assert.equal(content, whole.candidates[0].content.parts.map((p) => p.text).join(""));
  });
});
