import { createSseParser, type SseMessage } from "./sse-parser.js";

function parse(chunks: string[]) {
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const parser = createSseParser({
    onMessage: (m) => messages.push(m),
    onComment: (c) => comments.push(c),
    onRetry: (ms) => retries.push(ms),
  });
  for (const chunk of chunks) parser.push(chunk);
  return { messages, comments, retries };
}

describe("text/event-stream parser", () => {
  test("dispatches named events with ids and joins data lines", () => {
    const { messages } = parse([
      'event: hello\ndata: {"seq":4}\n\n',
      'event: coordinator\nid: 5\ndata: {"a":1,\ndata: "b":2}\n\n',
    ]);
    expect(messages).toEqual([
      { event: "hello", data: '{"seq":4}', id: undefined },
      { event: "coordinator", data: '{"a":1,\n"b":2}', id: "5" },
    ]);
  });

  test("handles messages split anywhere, CRLF split across chunks, and lone CRs", () => {
    const text = "event: tick\r\ndata: 12\r\n\r\nevent: x\rdata: y\r\r";
    for (let cut = 0; cut <= text.length; cut++) {
      const { messages } = parse([text.slice(0, cut), text.slice(cut)]);
      expect(messages).toEqual([
        { event: "tick", data: "12", id: undefined },
        { event: "x", data: "y", id: undefined },
      ]);
    }
  });

  test("comments, retry, unknown fields and data-less events", () => {
    const { messages, comments, retries } = parse([
      ": ping\n\nretry: 3000\nfoo: bar\nevent: empty\n\ndata\n\n",
    ]);
    expect(comments).toEqual(["ping"]);
    expect(retries).toEqual([3000]);
    // An event with no data is not dispatched; a bare "data" field is an empty data line.
    expect(messages).toEqual([{ event: "message", data: "", id: undefined }]);
  });

  test("an unterminated message is held until its blank line arrives", () => {
    const messages: SseMessage[] = [];
    const parser = createSseParser({ onMessage: (m) => messages.push(m) });
    parser.push("data: 1\n");
    expect(messages).toHaveLength(0);
    parser.push("\n");
    expect(messages).toHaveLength(1);
  });
});
