// Letting the runtime's `fetch` take a connection back before the next
// request.
//
// Node's `fetch` (undici) puts a keep-alive connection back in its pool a
// turn of the event loop after the response has ended, in an immediate it
// queues then ("a full event loop cycle", so that a server that closes the
// connection is seen first), not when the last read of the body returns. A
// request sent before that immediate ran finds the connection busy and
// opens another one. A pool of downloads of small files does just that: a
// small body is read to its end and written on the calling thread (see
// `ChunkedWriter.flush`), and with many of them the event loop spends long
// in the one phase where bodies end, files are renamed and the next
// downloads send their requests, before it runs the immediates: up to twice
// as many connections as downloads at once, each with its handshake and TCP
// slow start. Waiting for an immediate queued after undici's, once per body
// that ended, keeps one connection per download (a few microseconds; no
// timer, whose floor is 1 ms).
//
// Deno's `fetch` (hyper-util's pool) puts a connection back from a task of
// its own, spawned on the runtime's (tokio's) scheduler, which runs only
// when Deno's event loop hands its turn back to that scheduler: not between
// a body's end and the next download's request, when the library's file
// calls are synchronous and its promises resolve in the same turn (nor for
// an immediate, or an operation that completes at once). A message posted
// on a `MessageChannel` is received by an operation of its own, in a later
// turn of the loop: the scheduler runs the pool's task first. 1,000 files
// of 64 KiB, 32 at a time, from a server in another process on loopback:
// 57-63 connections without it, 32 with it (and with a timer, whose turn
// costs 2.3 ms of wait; a message on a new channel, 50-110 µs of CPU, as
// one channel kept for the process would cost 15-30 µs, but Deno's `unref`
// of a port no longer holds once it has received, and it would keep every
// process alive).
//
// Bun's `fetch` takes a connection back in time: nothing to wait for.

/**
 * Where the runtime's `fetch` puts a connection back in its pool a turn
 * after its response ended (Node's, Deno's): a promise that resolves after
 * that turn, so that the next request finds the connection of a body that
 * has just ended idle. Elsewhere `undefined`: nothing to wait for.
 *
 * @example Letting the pool take a connection back
 * ```ts
 * const response = await fetch("http://example.com/small.bin");
 * await response.arrayBuffer();
 * await poolTurn(); // the next fetch finds the connection idle
 * ```
 */
export function poolTurn(): Promise<void> | undefined {
  return turn?.();
}

// Node: immediates run in the order they were queued, so one queued now
// runs after undici's.
function immediateTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

// Deno: the callers waiting for the message posted last, and its channel.
let waiting: (() => void)[] = [];

function messageTurn(): Promise<void> {
  return new Promise((resolve) => {
    // One message for all who wait before it is received.
    if (waiting.push(resolve) > 1) return;
    const channel = new MessageChannel();
    // The web's port (Deno's), typed so for Node's types too, whose
    // `MessagePort` has no `onmessage` (Node never gets here).
    const port = channel.port1 as unknown as {
      onmessage: (() => void) | null;
      close(): void;
    };
    port.onmessage = () => {
      // Closed at once: a port listened to keeps the process alive, and
      // Deno's `unref` of a port no longer holds once it has received.
      port.close();
      const done = waiting;
      waiting = [];
      for (const resolve of done) resolve();
    };
    channel.port2.postMessage(undefined);
  });
}

const turn: (() => Promise<void>) | undefined = "Bun" in globalThis
  ? undefined
  : "Deno" in globalThis
  ? messageTurn
  : typeof globalThis.setImmediate === "function"
  ? immediateTurn
  : undefined;
