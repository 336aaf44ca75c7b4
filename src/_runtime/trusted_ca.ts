// Where the runtime's own `fetch` reads extra certificate authorities to
// trust, at start: what a person is told to set when a server's certificate
// is signed by an authority the runtime does not know (a company's own, a
// test server's).

/**
 * The variable naming a PEM file of certificate authorities that the
 * runtime's `fetch` trusts besides its own: `DENO_CERT` on Deno,
 * `NODE_EXTRA_CA_CERTS` on Node and Bun.
 */
export function trustedCaVariable(): string {
  return "Deno" in globalThis ? "DENO_CERT" : "NODE_EXTRA_CA_CERTS";
}
