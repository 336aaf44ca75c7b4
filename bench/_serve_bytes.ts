// A minimal server for the benchmarks, run in its own process: answers every
// request with `size` bytes (argument 1) from memory, on 127.0.0.1, and
// prints its port.

const size = Number(Deno.args[0] ?? 256 * 1024 * 1024);
const body = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(port),
}, () => new Response(body, { headers: { "content-length": String(size) } }));
await server.finished;
