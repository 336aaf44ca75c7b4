// A self-signed certificate for 127.0.0.1 (valid until 2126) and its key,
// for the tests' HTTPS server: no runtime trusts it, so a download from that
// server fails as a rejected certificate. Made once with:
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
//     -days 36500 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1
// It is a test fixture, not a secret: it guards nothing.

/** The certificate, PEM. */
export const SELF_SIGNED_CERT = `-----BEGIN CERTIFICATE-----
MIIBkDCCATagAwIBAgIUTT29wHKtBgiJgxiXrIYLjcO0ldwwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEzMDE0NTk1MFoYDzIxMjYxMTA2
MTQ1OTUwWjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASEr7CqPTKkbJsY5sq7oJnLMvlqnA/eiXoyjtXuDDKxlSj4gu1YBjL5
04AhA+Q0Ut/72k2N/JjDetHhYSO/NvtHo2QwYjAdBgNVHQ4EFgQU/2Am8InTUmSC
Mk/B6+xQZGK/MNUwHwYDVR0jBBgwFoAU/2Am8InTUmSCMk/B6+xQZGK/MNUwDwYD
VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0gAMEUC
IQDLRwgbbWhR90qjW/Cyy0iXzfEF5phXb3giLq7t3ZoNggIgf9y0KiixJTrcfOGe
ZCOBkmKTdmiqzRsgcrKvGwqxZ9U=
-----END CERTIFICATE-----
`;

/** Its private key, PEM. */
export const SELF_SIGNED_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQghXBc8hnZL9jG/0Iv
1QP44Xd7JYAkz4DuW2FBmtsx4r+hRANCAASEr7CqPTKkbJsY5sq7oJnLMvlqnA/e
iXoyjtXuDDKxlSj4gu1YBjL504AhA+Q0Ut/72k2N/JjDetHhYSO/NvtH
-----END PRIVATE KEY-----
`;
