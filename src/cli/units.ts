/**
 * Sizes and durations as the command line reads and prints them: `500M`,
 * `2G`; `1.5 MiB`, `3.2 MiB/s`, `1m05s`.
 *
 * @module
 */

const UNITS: Record<string, number> = {
  "": 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

/**
 * Parses a size: a number of bytes, optionally with a binary unit suffix
 * `K`, `M`, `G` or `T` (any case, optionally followed by `B` or `iB`).
 *
 * @param text The size as typed, e.g. `500M`, `2G`, `1.5g`, `1024`.
 * @returns The size in bytes (rounded down to a whole byte).
 * @throws {RangeError} if `text` is not such a size.
 *
 * @example
 * ```ts
 * parseSize("500M"); // 524288000
 * ```
 */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (match === null) {
    throw new RangeError(
      `Invalid size "${text}": expected a number with an optional unit (K, M, G, T), e.g. 500M`,
    );
  }
  const unit = UNITS[(match[2] ?? "").toLowerCase()] ?? 1;
  return Math.floor(Number(match[1]) * unit);
}

/**
 * Formats a byte count with a binary unit, three significant digits at most.
 *
 * @param bytes A non-negative number of bytes.
 * @returns e.g. `"512 B"`, `"1.5 KiB"`, `"12.3 MiB"`, `"456 MiB"`.
 *
 * @example
 * ```ts
 * formatBytes(1536); // "1.5 KiB"
 * ```
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = value < 10 ? 1 : 0;
  // Rounding may reach the next unit's threshold (1023.6 KiB -> "1024 KiB"):
  // acceptable, and never wider than 4 digits.
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/**
 * Formats a duration for an ETA or elapsed time.
 *
 * @param ms Milliseconds; `Infinity` or `NaN` give `"?"`.
 * @returns e.g. `"0.4s"`, `"12s"`, `"3m05s"`, `"2h03m"`.
 *
 * @example
 * ```ts
 * formatDuration(185_000); // "3m05s"
 * ```
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`;
  }
  const hours = Math.floor(minutes / 60);
  return `${hours}h${String(minutes % 60).padStart(2, "0")}m`;
}
