// Shell globs for `PersistLimit.registerDirContent()`: `*`, `?`, `[abc]`,
// `[a-z]`, `[!abc]` and `\` escapes, matched against one file name (no
// recursion). As in a shell, a leading dot must be matched literally, so `*`
// never matches a dotfile.

// Escapes the characters that are syntax in a `u`-flag RegExp (there, `\-`
// outside a class is an error, so `-` is left alone).
function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

/** Compiles `pattern` to a `RegExp` matching whole file names. */
export function globToRegExp(pattern: string): RegExp {
  // Iterate by code point, so that `?` matches one character outside the BMP.
  const chars = Array.from(pattern);
  let source = "";
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i] as string;
    if (char === "*") source += ".*";
    else if (char === "?") source += ".";
    else if (char === "\\" && i + 1 < chars.length) {
      source += escapeRegExp(chars[++i] as string);
    } else if (char === "[") {
      const negate = chars[i + 1] === "!" || chars[i + 1] === "^";
      // A `]` right after `[` (or `[!`) is a member, not the end.
      const first = i + (negate ? 2 : 1);
      const close = chars.indexOf("]", first + 1);
      if (close === -1) {
        source += "\\[";
        continue;
      }
      const body = chars.slice(first, close).join("");
      const parts = body.replace(/\\/g, "\\\\").replace(/]/g, "\\]")
        .replace(/\^/g, "\\^");
      source += negate ? `[^${parts}]` : `[${parts}]`;
      i = close;
    } else source += escapeRegExp(char);
  }
  const dotOk = pattern.startsWith(".") || pattern.startsWith("\\.");
  return new RegExp(`^${dotOk ? "" : "(?!\\.)"}${source}$`, "su");
}
