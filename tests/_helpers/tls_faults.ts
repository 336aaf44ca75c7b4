// Certificates a client rejects even when it trusts their authority: one
// that expired, and one for another host name, both for the tests' HTTPS
// server on 127.0.0.1, signed by an authority of their own. Made once with
// OpenSSL 3.0 (ca.ext: CA:TRUE; keyCertSign, cRLSign):
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
//     -days 36500 -subj "/CN=dlmanager test CA 2" -keyout ca.key -out ca.pem
//   openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
//     -subj /CN=127.0.0.1 -keyout leaf.key -out leaf.csr   # for each leaf
//   openssl ca -config ca.cnf -in expired.csr -startdate 20200101000000Z \
//     -enddate 20200102000000Z -extfile expired.ext   # IP:127.0.0.1
//   openssl x509 -req -in wrongname.csr -CA ca.pem -CAkey ca.key \
//     -days 36500 -extfile wrongname.ext   # DNS:example.invalid only
//   openssl pkcs8 -topk8 -nocrypt -in leaf.key   # each key
// The authority's key was not kept. Test fixtures, not secrets: they guard
// nothing.

/** The authority's certificate, PEM: what a client is told to trust. */
export const FAULTS_CA_CERT = `-----BEGIN CERTIFICATE-----
MIIBojCCAUmgAwIBAgIUOc4KiZ52rWOkzqdtbeR2ShOdjfIwCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTZGxtYW5hZ2VyIHRlc3QgQ0EgMjAgFw0yNjEyMDIxMDQ0MDha
GA8yMTI2MTEwODEwNDQwOFowHjEcMBoGA1UEAwwTZGxtYW5hZ2VyIHRlc3QgQ0Eg
MjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABEVS3EigPjTi/HSOpPEhNY16YIbB
ImBVCpYUsElt8YiHEQkYPcjFaPsrS5p8+dwAfH8T8vEUlWvciGz86lBvIz2jYzBh
MB0GA1UdDgQWBBSTT99uOrCYpKXoYlTt9GJSGLFbUTAfBgNVHSMEGDAWgBSTT99u
OrCYpKXoYlTt9GJSGLFbUTAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIB
BjAKBggqhkjOPQQDAgNHADBEAiBrBMmbOJIYRYbUSMTg9S2XXo18LxWiyrP8Gb/L
ET3PtQIgGYw4kaj8mzwbxaaGVgSD3VCdBwT0xpSqie34Q7jh5JQ=
-----END CERTIFICATE-----
`;

/** A certificate for 127.0.0.1 valid on 1 January 2020 only, PEM. */
export const EXPIRED_CERT = `-----BEGIN CERTIFICATE-----
MIIBozCCAUigAwIBAgIBATAKBggqhkjOPQQDAjAeMRwwGgYDVQQDDBNkbG1hbmFn
ZXIgdGVzdCBDQSAyMB4XDTIwMDEwMTAwMDAwMFoXDTIwMDEwMjAwMDAwMFowFDES
MBAGA1UEAwwJMTI3LjAuMC4xMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEBVbp
Tv08rDTjsxLxj0V+N+QStwqcW0L2BnQwO3INbtbbsuua1K+RtLAdfaYE5imNaCKp
87zTnwOwUlBLr0VjgKOBgDB+MAkGA1UdEwQCMAAwDwYDVR0RBAgwBocEfwAAATAL
BgNVHQ8EBAMCB4AwEwYDVR0lBAwwCgYIKwYBBQUHAwEwHQYDVR0OBBYEFJ4YlawU
Dx/HhDeXdY/dvcYPVjbrMB8GA1UdIwQYMBaAFJNP3246sJikpehiVO30YlIYsVtR
MAoGCCqGSM49BAMCA0kAMEYCIQDiMXMhdd3XoIUGBIFluOSw1zt14f2zcVQQlOIY
OcuhrAIhAMBEtabpH2wX5j7jyEauG4Yd5+EY3cuxOZHi6iTPAX7C
-----END CERTIFICATE-----
`;

/** Its private key, PEM. */
export const EXPIRED_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgh1602yVFMOKMa3YV
hWPAQz+tz2AYKS3BkzeInIK8G8uhRANCAAQFVulO/TysNOOzEvGPRX435BK3Cpxb
QvYGdDA7cg1u1tuy65rUr5G0sB19pgTmKY1oIqnzvNOfA7BSUEuvRWOA
-----END PRIVATE KEY-----
`;

/** A certificate for example.invalid (not 127.0.0.1), valid until 2126, PEM. */
export const WRONG_NAME_CERT = `-----BEGIN CERTIFICATE-----
MIIBxDCCAWmgAwIBAgIUfOCVzcBRdKWhtZKvJXWbrzxF0qowCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTZGxtYW5hZ2VyIHRlc3QgQ0EgMjAgFw0yNjEyMDIxMDQ0MDha
GA8yMTI2MTEwODEwNDQwOFowFDESMBAGA1UEAwwJMTI3LjAuMC4xMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEWYc2ksmb3touQLGcPRN9J567B5KraMNKvibIMxx+
GWKO42mkHTxJnmON1PO7P2KCHywMcStgTBdb95ugR5aAGqOBjDCBiTAJBgNVHRME
AjAAMBoGA1UdEQQTMBGCD2V4YW1wbGUuaW52YWxpZDALBgNVHQ8EBAMCB4AwEwYD
VR0lBAwwCgYIKwYBBQUHAwEwHQYDVR0OBBYEFDVtf4pnqX9iOpLNgk1cI+3KHWUn
MB8GA1UdIwQYMBaAFJNP3246sJikpehiVO30YlIYsVtRMAoGCCqGSM49BAMCA0kA
MEYCIQCPD61XCQy1DweyAzK1DYuVkhQClgpCjVSR+8Z6sFVuFwIhAMH9qsUclaUq
VyuorrNQpLTzR5yMikCu7Xfn23HArM8R
-----END CERTIFICATE-----
`;

/** Its private key, PEM. */
export const WRONG_NAME_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg4yOeCzFW/UMnnGZ8
pHFpMQ2Z3vNB4VzyNDUQIt3l4cahRANCAARZhzaSyZve2i5AsZw9E30nnrsHkqto
w0q+JsgzHH4ZYo7jaaQdPEmeY43U87s/YoIfLAxxK2BMF1v3m6BHloAa
-----END PRIVATE KEY-----
`;
