// Shutdown and cancellation: SIGTERM drains in-flight requests and then exits 0 (README,
// "Commands"), and a client that cancels a stream leaves the gateway healthy. Each test runs
// its own gateway, since most of them end it.

import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, describe, it } from "node:test";

import { startStack } from "./helpers.mjs";

const messages = [{ role: "user", content: "Tell me about lighthouses." }];
const PROMPT_EXIT_MS = 1500;  // "promptly": far below drain_timeout (30 s)

describe("shutdown and cancellation", () => {
  const stacks = [];
  const fresh = async () => {
    const stack = await startStack();
    stacks.push(stack);
    return stack;
  };
  after(async () => {
    await Promise.all(stacks.map((s) => s.stop()));
  });

  it("SIGTERM during a stream: the stream completes, then the gateway exits 0", async () => {
    const stack = await fresh();
    const client = stack.client();
    const body = { model: "fast", messages, max_tokens: 10 };
    const plain = await client.chat.completions.create(body);

    const stream = await client.chat.completions.create(
      { ...body, stream: true },
      { headers: { "x-mock-tokens-per-second": "20" } },  // about 0.5 s in all
    );
    let content = "";
    let signalled = false;
    for await (const chunk of stream) {
      if (!signalled) {
        stack.gateway.signal("SIGTERM");
        signalled = true;
      }
      content += chunk.choices[0]?.delta?.content ?? "";
    }
    assert.equal(content, plain.choices[0].message.content, "the whole answer arrived");
    assert.deepEqual(await stack.gateway.waitForExit(3000), { code: 0, signal: null });
  });

  it("SIGTERM with idle keep-alive client connections: exits 0 promptly", async () => {
    const stack = await fresh();
    const client = stack.client();
    await Promise.all([
      client.chat.completions.create({ model: "fast", messages, max_tokens: 3 }),
      client.models.list(),
    ]);
    stack.gateway.signal("SIGTERM");
    assert.deepEqual(await stack.gateway.waitForExit(PROMPT_EXIT_MS), { code: 0, signal: null });
  });

  it("a client cancelling a stream leaves the gateway healthy", async () => {
    const stack = await fresh();
    const client = stack.client();
    const stream = await client.chat.completions.create(
      { model: "fast", messages, stream: true, max_tokens: 50 },
      { headers: { "x-mock-tokens-per-second": "50" } },
    );
    let chunks = 0;
    for await (const _ of stream) {
      chunks += 1;
      if (chunks === 2) break;  // the client aborts the HTTP request
    }
    assert.equal(chunks, 2);

    const [a, b] = await Promise.all([
      client.chat.completions.create({ model: "fast", messages, max_tokens: 3 }),
      client.chat.completions.create({ model: "fast", messages, max_tokens: 3, stream: true }),
    ]);
    assert.equal(a.object, "chat.completion");
    let content = "";
    for await (const chunk of b) content += chunk.choices[0]?.delta?.content ?? "";
    assert.equal(content, a.choices[0].message.content);

    // Node's fetch keeps a spare connection open after the cancel; the drain closes it at once.
    stack.gateway.signal("SIGTERM");
    const exit = await stack.gateway.waitForExit(PROMPT_EXIT_MS);
    assert.deepEqual(exit, { code: 0, signal: null });
  });

  it(
    "SIGTERM with a client connection that has not sent a request yet: exits promptly",
    async () => {
      const stack = await fresh();
      const socket = net.connect(stack.gateway.port, "127.0.0.1");
      await once(socket, "connect");
      try {
        await new Promise((resolve) => setTimeout(resolve, 100));  // accepted by the gateway
        stack.gateway.signal("SIGTERM");
        const exit = await stack.gateway.waitForExit(PROMPT_EXIT_MS);
        assert.deepEqual(exit, { code: 0, signal: null }, `exited within ${PROMPT_EXIT_MS} ms`);
      } finally {
        socket.destroy();
        await stack.gateway.kill();
      }
    },
  );

  it(
    "SIGTERM after a client cancelled a stream: exits promptly",
    async () => {
      const stack = await fresh();
      const client = stack.client();
      const stream = await client.chat.completions.create(
        { model: "fast", messages, stream: true, max_tokens: 50 },
        { headers: { "x-mock-tokens-per-second": "50" } },
      );
      for await (const _ of stream) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
      try {
        stack.gateway.signal("SIGTERM");
        const exit = await stack.gateway.waitForExit(PROMPT_EXIT_MS);
        assert.deepEqual(exit, { code: 0, signal: null }, `exited within ${PROMPT_EXIT_MS} ms`);
      } finally {
        await stack.gateway.kill();
      }
    },
  );
});
