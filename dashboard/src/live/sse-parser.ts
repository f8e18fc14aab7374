/** One dispatched server-sent event. */
export interface SseMessage {
  /** The `event:` field, `"message"` when absent. */
  event: string;
  /** The `data:` lines joined by `\n`. */
  data: string;
  /** The `id:` field of this message, undefined when it had none. */
  id: string | undefined;
}

/** Callbacks of {@link createSseParser}. */
export interface SseParserCallbacks {
  onMessage(message: SseMessage): void;
  /** A `retry:` field (reconnection delay the server asks for, ms). */
  onRetry?(ms: number): void;
  /** A comment line (`: ping`), without the colon. */
  onComment?(text: string): void;
}

/** An incremental `text/event-stream` parser: feed it decoded text as it arrives. */
export interface SseParser {
  push(text: string): void;
}

/**
 * Parses the `text/event-stream` format (WHATWG HTML §9.2): lines end in LF, CRLF or CR (a CR at
 * the end of one chunk and an LF at the start of the next are one line end); a blank line
 * dispatches the collected `data:`; lines starting with `:` are comments; unknown fields are
 * ignored; an event without data is not dispatched.
 */
export function createSseParser(callbacks: SseParserCallbacks): SseParser {
  let buffer = "";
  let skipLeadingLf = false;
  let event = "";
  let data: string[] = [];
  let id: string | undefined;

  const line = (text: string): void => {
    if (text === "") {
      if (data.length > 0) {
        callbacks.onMessage({ event: event === "" ? "message" : event, data: data.join("\n"), id });
      }
      event = "";
      data = [];
      id = undefined;
      return;
    }
    if (text.startsWith(":")) {
      callbacks.onComment?.(text.slice(1).trimStart());
      return;
    }
    const colon = text.indexOf(":");
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        event = value;
        break;
      case "data":
        data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) id = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) callbacks.onRetry?.(Number(value));
        break;
      default:
        break;
    }
  };

  return {
    push(text) {
      let chunk = text;
      if (skipLeadingLf && chunk.startsWith("\n")) chunk = chunk.slice(1);
      skipLeadingLf = false;
      buffer += chunk;
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer.charCodeAt(i);
        if (c !== 10 && c !== 13) continue;
        line(buffer.slice(start, i));
        if (c === 13) {
          if (i + 1 === buffer.length) skipLeadingLf = true;
          else if (buffer.charCodeAt(i + 1) === 10) i++;
        }
        start = i + 1;
      }
      buffer = buffer.slice(start);
    },
  };
}
