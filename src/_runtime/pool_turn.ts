// Letting Node's `fetch` take a connection back before the next request.
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
// Bun's `fetch` takes a connection back in time: nothing to wait for.
// Deno's (hyper) takes it back from a task of its own, which neither an
// immediate nor another operation first lets run, measured; only a timer
// does, at about 2 ms of wait per file, and a plain `fetch` pool opens as
// many connections there as the library: not waited for (see
// docs/performance.md).

/**
 * Where the runtime's `fetch` puts a connection back in its pool a turn
 * after its response ended (Node's): a promise that resolves after that
 * turn, so that the next request finds the connection of a body that has
 * just ended idle. Elsewhere `undefined`: nothing to wait for.
 */
export function poolTurn(): Promise<void> | undefined {
  return immediate === undefined
    ? undefined
    : new Promise((resolve) => immediate(resolve));
}

// Node alone, where immediates run in the order they were queued: after
// undici's.
const immediate: ((resolve: () => void) => void) | undefined =
  "Deno" in globalThis || "Bun" in globalThis ||
    typeof globalThis.setImmediate !== "function"
    ? undefined
    : (resolve) => setImmediate(resolve);
