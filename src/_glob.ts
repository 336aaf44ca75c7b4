// Shell globs for `PersistLimit.registerDirContent()`: `*`, `?`, `[abc]`,
// `[a-z]`, `[!abc]` and `\` escapes, matched against one file name (no
// recursion). As in a shell, a leading dot must be matched literally, so `*`
// never matches a dotfile.

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}

/** Compiles `pattern` to a `RegExp` matching whole file names. */
export function globToRegExp(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === "*") source += ".*";
    else if (char === "?") source += ".";
    else if (char === "\\" && i + 1 < pattern.length) {
      source += escapeRegExp(pattern[++i] as string);
    } else if (char === "[") {
      const close = pattern.indexOf("]", i + 2);
      if (close === -1) {
        source += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negate = body.startsWith("!") || body.startsWith("^");
      if (negate) body = body.slice(1);
      const parts = body.replace(/\\/g, "\\\\").replace(/]/g, "\\]")
        .replace(/\^/g, "\\^");
      source += negate ? `[^${parts}]` : `[${parts}]`;
      i = close;
    } else source += escapeRegExp(char);
  }
  const dotOk = pattern.startsWith(".");
  return new RegExp(`^${dotOk ? "" : "(?!\\.)"}${source}$`, "s");
}
