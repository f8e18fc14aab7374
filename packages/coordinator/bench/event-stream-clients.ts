// Event-stream clients for the HTTP benchmark, started with child_process.fork so their parsing
// does not share the benchmark's event loop. Each client reads `/api/events` and, for every
// `coordinator` event, records how long after the event's time (`at`, the coordinator's clock on
// this same machine) it arrived. Ticks and pings are read but not parsed.
export type StreamCommand =
  | { cmd: "open"; url: string; count: number }
  | { cmd: "collect"; afterSeq: number }
  | { cmd: "close" };

interface Client {
  controller: AbortController;
  /** seq → delivery latency in ms. */
  received: Map<number, number>;
}

let clients: Client[] = [];
const reply = (message: unknown) => process.send?.(message);

async function read(url: string, client: Client, ready: () => void): Promise<void> {
  const response = await fetch(url, { signal: client.controller.signal });
  ready();
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    const now = Date.now();
    buffer += decoder.decode(chunk, { stream: true });
    let start = 0;
    let end = buffer.indexOf("\n\n", start);
    while (end >= 0) {
      if (buffer.startsWith("id: ", start)) {
        // An event (hello, tick and ping frames have no id and are skipped unparsed).
        const data = buffer.slice(buffer.indexOf("\ndata: ", start) + 7, end);
        const event = JSON.parse(data) as { seq: number; at: number };
        client.received.set(event.seq, now - event.at);
      }
      start = end + 2;
      end = buffer.indexOf("\n\n", start);
    }
    buffer = buffer.slice(start);
  }
}

async function run(command: StreamCommand): Promise<unknown> {
  switch (command.cmd) {
    case "open": {
      const opened: Promise<void>[] = [];
      for (let i = 0; i < command.count; i++) {
        const client: Client = { controller: new AbortController(), received: new Map() };
        clients.push(client);
        opened.push(
          new Promise<void>((resolve, reject) => {
            read(command.url, client, resolve).catch((error: unknown) => {
              if (!client.controller.signal.aborted) reject(error);
            });
          }),
        );
      }
      await Promise.all(opened);
      return { ok: true };
    }
    case "collect": {
      const latencies: number[] = [];
      const counts: number[] = [];
      for (const client of clients) {
        let n = 0;
        for (const [seq, ms] of client.received) {
          if (seq <= command.afterSeq) continue;
          latencies.push(ms);
          n++;
        }
        counts.push(n);
      }
      return { latencies, counts };
    }
    case "close":
      for (const client of clients) client.controller.abort();
      clients = [];
      setImmediate(() => process.exit(0));
      return { ok: true };
  }
}

process.on("message", (command: StreamCommand) => {
  run(command).then(reply, (error: unknown) => reply({ error: String(error) }));
});
