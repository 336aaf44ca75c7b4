// A certificate authority of the tests' own and a certificate it signed for
// 127.0.0.1 (both valid until 2126), with that certificate's key: a client
// told to trust the authority (NODE_EXTRA_CA_CERTS on Node and Bun,
// DENO_CERT on Deno) accepts the tests' HTTPS server. `tls.ts`'s certificate
// is its own authority, which Deno refuses as a server's certificate
// (CaUsedAsEndEntity) even when trusted. Made once with:
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
//     -days 36500 -subj "/CN=dlmanager test CA" -keyout ca.key -out ca.pem \
//     -addext basicConstraints=critical,CA:TRUE \
//     -addext keyUsage=critical,keyCertSign,cRLSign
//   openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
//     -subj /CN=127.0.0.1 -keyout leaf.key -out leaf.csr
//   openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -days 36500 \
//     -extfile leaf.ext -out leaf.pem   # leaf.ext: CA:FALSE, IP:127.0.0.1,
//                                       # digitalSignature, serverAuth
//   openssl pkcs8 -topk8 -nocrypt -in leaf.key -out leaf.pk8
// The authority's key was not kept. Test fixtures, not secrets: they guard
// nothing.

/** The authority's certificate, PEM: what a client is told to trust. */
export const TEST_CA_CERT = `-----BEGIN CERTIFICATE-----
MIIBnjCCAUWgAwIBAgIUXturWk+tjXOHSElV/a85wItwV3swCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRZGxtYW5hZ2VyIHRlc3QgQ0EwIBcNMjYxMTMwMTU0NDM5WhgP
MjEyNjExMDYxNTQ0MzlaMBwxGjAYBgNVBAMMEWRsbWFuYWdlciB0ZXN0IENBMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfaY4tZtrPa27c8JqeyXDPuJKcbsAICNl
rCPo/Mo+qC0L+wZBmNw68mEIh9TfRu2jG4iriXYshKwoYwHA5RvYTqNjMGEwHQYD
VR0OBBYEFEgM9mBfsjPUCBRAR/NNsUmRAemqMB8GA1UdIwQYMBaAFEgM9mBfsjPU
CBRAR/NNsUmRAemqMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMAoG
CCqGSM49BAMCA0cAMEQCIH40s4lr0/tq8q7mwmGxDE/nvE9l/37yLBLIX0I41UJm
AiAWvmWNYW+oYsodBQJuIFf62VWE+MJoULHY1Vfj8sYPfg==
-----END CERTIFICATE-----
`;

/** The server's certificate for 127.0.0.1, signed by the authority, PEM. */
export const SERVER_CERT = `-----BEGIN CERTIFICATE-----
MIIBuzCCAWKgAwIBAgIUbivpsgJDHLZemfQc2EzForaf+zEwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRZGxtYW5hZ2VyIHRlc3QgQ0EwIBcNMjYxMTMwMTU0NDM5WhgP
MjEyNjExMDYxNTQ0MzlaMBQxEjAQBgNVBAMMCTEyNy4wLjAuMTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABAmLr+wHllYLM4DzKYG6IvKRqFXvIUCvBHx1B8hzWiKn
1puML3rT+B7u2Uc19T6yGT6j47iYdV3jjcEkBLbXM0yjgYcwgYQwDAYDVR0TAQH/
BAIwADAPBgNVHREECDAGhwR/AAABMA4GA1UdDwEB/wQEAwIHgDATBgNVHSUEDDAK
BggrBgEFBQcDATAdBgNVHQ4EFgQU0TWjAxDkt7G4Zx8re+XaApz9hK0wHwYDVR0j
BBgwFoAUSAz2YF+yM9QIFEBH802xSZEB6aowCgYIKoZIzj0EAwIDRwAwRAIgQxN2
JYENdFbkSBnmX8nXgiXJEzj9GYIuDz6uarrgV/ICIB8HshZKh7yXWStmj4AzcHLw
qrnY6/t/D2k0pEw9fyze
-----END CERTIFICATE-----
`;

/** The server certificate's private key, PEM. */
export const SERVER_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg85Vp4klXb6p2Xq6d
pMlkgDNMkShsyaeoP5qNQKbCLWihRANCAAQJi6/sB5ZWCzOA8ymBuiLykahV7yFA
rwR8dQfIc1oip9abjC960/ge7tlHNfU+shk+o+O4mHVd443BJAS21zNM
-----END PRIVATE KEY-----
`;
