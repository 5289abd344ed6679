// Failures reach the client as the OpenAI client's typed errors: unknown models, upstream error
// statuses (injected by the mock with x-mock-* headers, which the gateway forwards), an
// unreachable upstream, and a stream cut by the upstream halfway.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { OpenAI, startStack } from "./helpers.mjs";

const messages = [{ role: "user", content: "Hello" }];

// assert.rejects validator: checks the class and status, then runs `more`.
function expectError(cls, status, more = () => {}) {
  return (err) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${err?.constructor?.name}: ${err}`);
    assert.ok(err instanceof OpenAI.APIError);
    assert.equal(err.status, status);
    more(err);
    return true;
  };
}

describe("errors", () => {
  let stack;
  let client;

  before(async () => {
    stack = await startStack();
    client = stack.client();
  });
  after(async () => {
    await stack?.stop();
  });

  it("unknown model: NotFoundError with code model_not_found", async () => {
    await assert.rejects(
      client.chat.completions.create({ model: "no-such-model", messages }),
      expectError(OpenAI.NotFoundError, 404, (err) => {
        assert.equal(err.code, "model_not_found");
        assert.equal(err.error.code, "model_not_found");
        assert.equal(err.param, "model");
        assert.equal(err.type, "invalid_request_error");
        assert.match(err.message, /no-such-model/);
      }),
    );
  });

  it("upstream 429: RateLimitError, with the upstream's retry-after", async () => {
    await assert.rejects(
      client.chat.completions.create(
        { model: "fast", messages },
        { headers: { "x-mock-status": "429", "x-mock-retry-after": "1" } },
      ),
      expectError(OpenAI.RateLimitError, 429, (err) => {
        assert.equal(err.headers.get("retry-after"), "1");
        assert.equal(err.type, "rate_limit_error");
      }),
    );
  });

  it("upstream 400: BadRequestError", async () => {
    await assert.rejects(
      client.chat.completions.create({ model: "fast", messages }, { headers: { "x-mock-status": "400" } }),
      expectError(OpenAI.BadRequestError, 400, (err) => {
        assert.equal(typeof err.error?.message, "string");
      }),
    );
  });

  it("upstream 503: InternalServerError", async () => {
    await assert.rejects(
      client.chat.completions.create({ model: "fast", messages }, { headers: { "x-mock-status": "503" } }),
      expectError(OpenAI.InternalServerError, 503),
    );
  });

  it("streamed request, upstream 429: the error comes before any chunk", async () => {
    await assert.rejects(
      client.chat.completions.create(
        { model: "fast", messages, stream: true },
        { headers: { "x-mock-status": "429" } },
      ),
      expectError(OpenAI.RateLimitError, 429),
    );
  });

  it("connection refused upstream: 502 with code upstream_unreachable", async () => {
    await assert.rejects(
      client.chat.completions.create({ model: "broken", messages }),
      expectError(OpenAI.InternalServerError, 502, (err) => {
        // The client copies error.code to err.code and keeps the whole object in err.error.
        assert.equal(err.code, "upstream_unreachable");
        assert.equal(err.error.code, "upstream_unreachable");
      }),
    );
  });

  it("connection refused upstream, streamed: 502 before the stream starts", async () => {
    await assert.rejects(
      client.chat.completions.create({ model: "broken", messages, stream: true }),
      expectError(OpenAI.InternalServerError, 502, (err) => {
        assert.equal(err.code, "upstream_unreachable");
      }),
    );
  });

  it("upstream cut mid-stream: iteration throws after the first chunks", async () => {
    const stream = await client.chat.completions.create(
      { model: "fast", messages, stream: true, max_tokens: 20 },
      { headers: { "x-mock-cut-after": "3" } },
    );
    let content = "";
    let chunks = 0;
    let endedNormally = false;
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) {
          chunks += 1;
          content += chunk.choices[0]?.delta?.content ?? "";
        }
        endedNormally = true;
      })(),
      (err) => {
        assert.ok(err instanceof OpenAI.APIError, `APIError, got ${err?.constructor?.name}: ${err}`);
        // The gateway's in-stream error event; there is no HTTP status by then.
        assert.equal(err.code, "upstream_protocol_error");
        return true;
      },
    );
    assert.equal(endedNormally, false);
    assert.ok(chunks > 0, "chunks arrived before the cut");
    assert.ok(content.length > 0, "some content arrived before the cut");

    // The gateway is still healthy afterwards.
    const res = await client.chat.completions.create({ model: "fast", messages, max_tokens: 3 });
    assert.equal(res.object, "chat.completion");
  });

  it("upstream cut mid-answer (not streamed): 502 with code upstream_protocol_error", async () => {
    await assert.rejects(
      client.chat.completions.create({ model: "fast", messages }, { headers: { "x-mock-cut-after": "1" } }),
      expectError(OpenAI.InternalServerError, 502, (err) => {
        assert.equal(err.code, "upstream_protocol_error");
      }),
    );
  });

  it("in-process simulated model: injected 429 and mid-stream cut", async () => {
    await assert.rejects(
      client.chat.completions.create(
        { model: "local-sim", messages },
        { headers: { "x-mock-status": "429", "x-mock-retry-after": "2" } },
      ),
      expectError(OpenAI.RateLimitError, 429, (err) => {
        assert.equal(err.headers.get("retry-after"), "2");
      }),
    );

    const stream = await client.chat.completions.create(
      { model: "local-sim", messages, stream: true, max_tokens: 20 },
      { headers: { "x-mock-cut-after": "3" } },
    );
    let chunks = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of stream) chunks += 1;
      })(),
      (err) => err instanceof OpenAI.APIError && err.code === "upstream_protocol_error",
    );
    assert.ok(chunks > 0, "chunks arrived before the cut");
  });

  it("upstream slower than the first-byte timeout: 504 with code upstream_timeout", async () => {
    await assert.rejects(
      client.chat.completions.create({ model: "impatient", messages }, { headers: { "x-mock-hang": "1" } }),
      expectError(OpenAI.InternalServerError, 504, (err) => {
        assert.equal(err.code, "upstream_timeout");
      }),
    );
  });

  it("upstream stalling mid-stream past the idle timeout: the stream throws", async () => {
    const stream = await client.chat.completions.create(
      { model: "impatient", messages, stream: true, max_tokens: 5 },
      { headers: { "x-mock-tokens-per-second": "1" } },  // a token every 1000 ms > 500 ms idle
    );
    let chunks = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of stream) chunks += 1;
      })(),
      (err) => err instanceof OpenAI.APIError && err.code === "upstream_timeout",
    );
    assert.ok(chunks > 0, "the stream had started");
  });
});
