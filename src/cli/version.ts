/**
 * The version `dlmanager --version` prints: the package's, kept equal to
 * `deno.json`'s by a test (`tests/cli_version_deno_test.ts`).
 *
 * @module
 */

/** The package version. */
export const VERSION = "0.2.0";
