// The figures of `bench/bench.ts`: per contender and workload, the median and
// range of the runs, what the server saw, and ratios against the references
// (by medians, and round by round), as a text table (for the terminal) and a
// Markdown table (for `bench/results/`).

/** One timed run of one contender. */
export interface Sample {
  /** Wall time in seconds, from spawn to exit. */
  wall: number;
  /** User plus system CPU seconds. */
  cpu: number;
  /** Peak resident set size in bytes. */
  rss: number;
  /** The TCP connections the server saw, when it tells. */
  connections?: number;
  /** The requests the server saw, when it tells. */
  requests?: number;
}

/** A sample and the round it was taken in (from 1). */
export interface RoundSample extends Sample {
  round: number;
}

/** A contender's runs on one workload. */
export interface Row {
  /** The contender's id. */
  id: string;
  /** Its command, as shown in the report. */
  label: string;
  /** The contender whose throughput this one is divided by in "÷ fetch". */
  baseline: string | undefined;
  /** The runs that completed and verified. */
  samples: RoundSample[];
  /** Why runs failed, if any did. */
  failures: string[];
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 === 1
    ? sorted[mid] as number
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "–";
}

/** A table's header and cells, before layout. */
export interface Table {
  header: string[];
  rows: string[][];
}

/**
 * What a ratio is taken against: a contender's id, or several, of which the
 * fastest is taken (by median, or within each round for per-round ratios).
 */
export type Reference = string | string[];

/**
 * The table of one workload: wall time, throughput, CPU and peak RSS of each
 * contender, the connections and requests the server saw (when it told),
 * and throughput ratios: "÷ fetch" against each row's own `baseline` (when a
 * row has one), then against `references` (column title → reference) by
 * medians, then against `perRound` by round (each round's runs divided, then
 * the median and range of those ratios).
 */
export function workloadTable(
  rows: Row[],
  bytes: number,
  files: number,
  references: Record<string, Reference>,
  perRound: Record<string, Reference> = {},
): Table {
  const byId = new Map(rows.map((row) => [row.id, row]));
  const wallOf = new Map(
    rows.map((row) => [row.id, median(row.samples.map((s) => s.wall))]),
  );
  const ids = (reference: Reference): string[] =>
    typeof reference === "string" ? [reference] : reference;
  const referenceWall = (reference: Reference): number | undefined => {
    const walls = ids(reference).map((id) => wallOf.get(id)).filter((
      wall,
    ): wall is number => wall !== undefined && Number.isFinite(wall));
    return walls.length === 0 ? undefined : Math.min(...walls);
  };
  const served = rows.some((row) =>
    row.samples.some((s) => s.connections !== undefined)
  );
  const baselines = rows.some((row) => row.baseline !== undefined);
  const header = [
    "contender",
    "wall s, median (min–max)",
    files === 1 ? "MB/s" : "files/s",
    "CPU s",
    "peak RSS MB, median (max)",
    ...(served ? ["connections (per file)", "requests"] : []),
    ...(baselines ? ["÷ fetch", "÷ fetch, per round (min–max)"] : []),
    ...Object.keys(references),
    ...Object.keys(perRound).map((title) => `${title}, per round (min–max)`),
  ];
  const ratio = (reference: Reference | undefined, wall: number): string => {
    const against = reference === undefined
      ? undefined
      : referenceWall(reference);
    return against === undefined ? "–" : `${fixed(against / wall, 2)}x`;
  };
  // Each round's runs divided, then the median: one slow run moves it by one
  // place, where it can move a median of 5 by a whole run's time.
  const roundRatios = (row: Row, reference: Reference | undefined): string => {
    if (reference === undefined) return "–";
    const against = ids(reference).flatMap((id) => byId.get(id) ?? []);
    if (against.length === 0) return "–";
    if (against.length === 1 && against[0] === row) return "1.00x";
    const ratios = row.samples.flatMap((sample) => {
      const walls = against.flatMap((r) =>
        r.samples.filter((s) => s.round === sample.round).map((s) => s.wall)
      );
      return walls.length === 0 ? [] : [Math.min(...walls) / sample.wall];
    });
    if (ratios.length === 0) return "–";
    return `${fixed(median(ratios), 2)}x (${fixed(Math.min(...ratios), 2)}–${
      fixed(Math.max(...ratios), 2)
    })`;
  };
  const table = rows.map((row) => {
    const walls = row.samples.map((s) => s.wall);
    const wall = median(walls);
    const rss = row.samples.map((s) => s.rss / 1e6);
    const connections = median(
      row.samples.flatMap((s) => s.connections ?? []),
    );
    const requests = median(row.samples.flatMap((s) => s.requests ?? []));
    const cells = [
      row.label,
      walls.length === 0
        ? "–"
        : `${fixed(wall, 2)} (${fixed(Math.min(...walls), 2)}–${
          fixed(Math.max(...walls), 2)
        })`,
      files === 1 ? fixed(bytes / 1e6 / wall, 0) : fixed(files / wall, 0),
      fixed(median(row.samples.map((s) => s.cpu)), 2),
      rss.length === 0
        ? "–"
        : `${fixed(median(rss), 0)} (${fixed(Math.max(...rss), 0)})`,
      ...(served
        ? [
          files === 1
            ? fixed(connections, 0)
            : `${fixed(connections, 0)} (${fixed(connections / files, 3)})`,
          fixed(requests, 0),
        ]
        : []),
      ...(baselines
        ? [
          row.baseline === undefined ? "–" : ratio(row.baseline, wall),
          roundRatios(row, row.baseline),
        ]
        : []),
      ...Object.values(references).map((reference) => ratio(reference, wall)),
      ...Object.values(perRound).map((reference) =>
        roundRatios(row, reference)
      ),
    ];
    if (row.failures.length > 0) {
      cells[0] += ` (${row.failures.length} failed: ${row.failures[0]})`;
    }
    return cells;
  });
  return { header, rows: table };
}

/** `table` laid out in aligned columns for a terminal. */
export function textTable(table: Table): string {
  const all = [table.header, ...table.rows];
  const widths = table.header.map((_, i) =>
    Math.max(...all.map((row) => (row[i] ?? "").length))
  );
  const line = (row: string[]): string =>
    row.map((cell, i) =>
      i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)
    ).join("  ");
  return [
    line(table.header),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...table.rows.map(line),
  ].join("\n");
}

/** `table` as a Markdown table. */
export function markdownTable(table: Table): string {
  const line = (row: string[]): string =>
    `| ${row.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`;
  return [
    line(table.header),
    `| ${table.header.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...table.rows.map(line),
  ].join("\n");
}
