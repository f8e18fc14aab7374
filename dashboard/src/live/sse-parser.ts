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

  // The unterminated end of the stream so far, in pieces: a 250 KB tick arriving in many chunks
  // is scanned once and joined once, instead of re-scanning a growing buffer.
  let pending: string[] = [];

  return {
    push(text) {
      let start = 0;
      if (skipLeadingLf && text.charCodeAt(0) === 10) start = 1;
      skipLeadingLf = false;
      let lf = text.indexOf("\n", start);
      let cr = text.indexOf("\r", start);
      for (;;) {
        if (lf !== -1 && lf < start) lf = text.indexOf("\n", start);
        if (cr !== -1 && cr < start) cr = text.indexOf("\r", start);
        const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
        if (end === -1) {
          if (start < text.length) pending.push(text.slice(start));
          return;
        }
        const piece = text.slice(start, end);
        if (pending.length === 0) {
          line(piece);
        } else {
          pending.push(piece);
          const whole = pending.join("");
          pending = [];
          line(whole);
        }
        start = end + 1;
        if (end === cr) {
          if (start === text.length) skipLeadingLf = true;
          else if (text.charCodeAt(start) === 10) start++;
        }
      }
    },
  };
}
