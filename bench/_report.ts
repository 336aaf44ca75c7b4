// The figures of `bench/bench.ts`: per contender and workload, the median and
// range of the runs, and ratios against the references, as a text table (for
// the terminal) and a Markdown table (for `bench/results/`).

/** One timed run of one contender. */
export interface Sample {
  /** Wall time in seconds, from spawn to exit. */
  wall: number;
  /** User plus system CPU seconds. */
  cpu: number;
  /** Peak resident set size in bytes. */
  rss: number;
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
 * The table of one workload: wall time, throughput, CPU and peak RSS of each
 * contender, and throughput ratios against `references` (column title → row
 * id; "÷ fetch" uses each row's own `baseline`).
 */
export function workloadTable(
  rows: Row[],
  bytes: number,
  files: number,
  references: Record<string, string>,
): Table {
  const wallOf = new Map(
    rows.map((row) => [row.id, median(row.samples.map((s) => s.wall))]),
  );
  const header = [
    "contender",
    "wall s, median (min–max)",
    files === 1 ? "MB/s" : "files/s",
    "CPU s",
    "peak RSS MB, median (max)",
    "÷ fetch",
    "÷ fetch, per round (min–max)",
    ...Object.keys(references),
  ];
  const ratio = (id: string | undefined, wall: number): string => {
    const reference = id === undefined ? undefined : wallOf.get(id);
    return reference === undefined ? "–" : `${fixed(reference / wall, 2)}x`;
  };
  const byId = new Map(rows.map((row) => [row.id, row]));
  // Each round's pair of runs divided, then the median: one slow run moves
  // it by one place, where it can move a median of 5 by a whole run's time.
  const perRound = (row: Row): string => {
    const reference = row.baseline === undefined
      ? undefined
      : byId.get(row.baseline);
    if (reference === undefined) return "–";
    if (reference === row) return "1.00x";
    const ratios = row.samples.flatMap((sample) => {
      const paired = reference.samples.find((r) => r.round === sample.round);
      return paired === undefined ? [] : [paired.wall / sample.wall];
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
      row.baseline === undefined ? "–" : ratio(row.baseline, wall),
      perRound(row),
      ...Object.values(references).map((id) => ratio(id, wall)),
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
