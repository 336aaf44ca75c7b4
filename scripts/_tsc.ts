// The glue between `build_npm.ts` and the TypeScript compiler (the
// `typescript` package, used as a library): the part of dnt's job that tsc
// does not do by itself.
//
// - Swaps: a source file can be compiled from another file's text, under its
//   own name (the runtime adapter's Node-only variant).
// - Relative `.ts` imports become `.js`: tsc's `rewriteRelativeImportExtensions`
//   does it in the code; a transformer here does it in the `.d.ts` files.
// - Tests import the package the way a consumer does: an entry point by the
//   package's name, any other source file by its path in the installed package.
//   They are written apart from the package (and without `.d.ts` files).
// - Any diagnostic, of the options or the code, fails the build.

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";

/** Compiler options in tsconfig.json's form. */
export type JsonCompilerOptions = Record<string, unknown>;

/** What {@linkcode compile} builds, and where. */
export interface CompileOptions {
  /** The project's root; the other paths are relative to it. */
  root: string;
  /** Entry points: package specifier (e.g. `@x/dlmanager`) to source file. */
  entryPoints: Record<string, string>;
  /** The tests' directory: its `.ts` files but `*_deno_test.ts` are compiled to `testsOutDir`. */
  testsDir: string;
  /** Source files compiled from another file's text. */
  swaps: Record<string, string>;
  /** The compiler options, without the module format and output ones. */
  compilerOptions: JsonCompilerOptions;
  /** `esm` (ES modules) or `script` (CommonJS). */
  format: "esm" | "script";
  /** Where the package's files for this format go. */
  outDir: string;
  /** Where the compiled tests go. */
  testsOutDir: string;
  /** Where the tests will find this format's files of the installed package. */
  installedOutDir: string;
}

/** Type-checks the program, then emits it; throws on any diagnostic. */
export function compile(options: CompileOptions): void {
  const root = resolve(options.root);
  const abs = (path: string): string => resolve(root, path);
  const testsDir = abs(options.testsDir) + sep;
  // Every test module, in every folder (helpers and child scripts too), but
  // those that need Deno's own APIs: their names end in `_deno_test.ts`.
  const tests = readdirSync(testsDir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts") && !name.endsWith("_deno_test.ts"))
    .map((name) => testsDir + name);
  const entryByPath = new Map<string, string>();
  for (const [name, path] of Object.entries(options.entryPoints)) {
    entryByPath.set(abs(path), name);
  }
  const program = createProgram(
    [...entryByPath.keys(), ...tests],
    {
      ...options.compilerOptions,
      module: options.format === "esm" ? "es2022" : "commonjs",
      moduleResolution: "bundler",
      allowImportingTsExtensions: true,
      rewriteRelativeImportExtensions: true,
      declaration: true,
      rootDir: root,
      outDir: abs(options.outDir),
    },
    root,
    new Map(
      Object.entries(options.swaps).map(([from, to]) => [abs(from), abs(to)]),
    ),
  );

  const builtTests = join(abs(options.outDir), options.testsDir) + sep;
  function writeFile(path: string, text: string): void {
    if (path.startsWith(builtTests)) {
      if (path.endsWith(".d.ts")) return;
      path = join(abs(options.testsOutDir), path.slice(builtTests.length));
    }
    // tsc itself accepts `.ts` specifiers in a `.d.ts`, so a consumer's type
    // check would not notice one left behind: check here.
    const left = ts.preProcessFile(text, true, true).importedFiles
      .map((file) => file.fileName).filter(isRelativeTs);
    if (left.length > 0) throw new Error(`${path} imports ${left.join(", ")}`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }

  // In a test, a specifier reaching out of the tests' directory: relative to
  // where that test is written.
  function testSpecifier(from: string, specifier: string): string | undefined {
    if (!specifier.startsWith(".")) return undefined;
    const target = resolve(dirname(from), specifier);
    if (target.startsWith(testsDir)) return undefined;
    const installed = join(abs(options.installedOutDir), relative(root, target))
      .replace(/\.ts$/, ".js");
    const written = join(abs(options.testsOutDir), relative(testsDir, from));
    const path = relative(dirname(written), installed).split(sep).join("/");
    return entryByPath.get(target) ??
      (path.startsWith(".") ? path : `./${path}`);
  }

  const { diagnostics } = program.emit(undefined, writeFile, undefined, false, {
    before: [
      rewriteSpecifiers((from, specifier) =>
        from.startsWith(testsDir) ? testSpecifier(from, specifier) : undefined
      ),
    ],
    afterDeclarations: [
      rewriteSpecifiers((_from, specifier) =>
        isRelativeTs(specifier) ? specifier.replace(/\.ts$/, ".js") : undefined
      ),
    ],
  });
  fail(diagnostics);
}

/** Type-checks `files` as a consumer's project would; throws on any diagnostic. */
export function typeCheck(
  files: string[],
  compilerOptions: JsonCompilerOptions,
  root: string,
): void {
  createProgram(files, { ...compilerOptions, noEmit: true }, root);
}

function createProgram(
  files: string[],
  jsonOptions: JsonCompilerOptions,
  root: string,
  swaps: Map<string, string> = new Map(),
): ts.Program {
  const { options, errors } = ts.convertCompilerOptionsFromJson(
    jsonOptions,
    root,
  );
  fail(errors);
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile;
  host.getSourceFile = (fileName, languageVersion, ...rest) => {
    const swap = swaps.get(resolve(fileName));
    return swap === undefined
      ? getSourceFile(fileName, languageVersion, ...rest)
      : ts.createSourceFile(
        fileName,
        readFileSync(swap, "utf8"),
        languageVersion,
      );
  };
  const program = ts.createProgram(files, options, host);
  fail(ts.getPreEmitDiagnostics(program));
  return program;
}

function isRelativeTs(specifier: string): boolean {
  return /^\.\.?\/.*\.ts$/.test(specifier);
}

function fail(diagnostics: readonly ts.Diagnostic[]): void {
  if (diagnostics.length === 0) return;
  throw new Error(
    `TypeScript found ${diagnostics.length} problem(s):\n` +
      ts.formatDiagnosticsWithColorAndContext(diagnostics, {
        getCanonicalFileName: (fileName) => fileName,
        getCurrentDirectory: () => Deno.cwd(),
        getNewLine: () => "\n",
      }),
  );
}

// A transformer replacing module specifiers (of imports, re-exports and
// `import("...")` types) for which `rewrite` returns a new one.
function rewriteSpecifiers<T extends ts.SourceFile | ts.Bundle>(
  rewrite: (fromFile: string, specifier: string) => string | undefined,
): ts.TransformerFactory<T> {
  return (context) => (root) => {
    if (!ts.isSourceFile(root)) return root;
    const { factory } = context;
    const replace = (literal: ts.StringLiteral): ts.StringLiteral => {
      const to = rewrite(root.fileName, literal.text);
      return to === undefined ? literal : factory.createStringLiteral(to);
    };
    function visit(node: ts.Node): ts.Node {
      if (
        ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)
      ) {
        return factory.updateImportDeclaration(
          node,
          node.modifiers,
          node.importClause,
          replace(node.moduleSpecifier),
          node.attributes,
        );
      }
      if (
        ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined &&
        ts.isStringLiteral(node.moduleSpecifier)
      ) {
        return factory.updateExportDeclaration(
          node,
          node.modifiers,
          node.isTypeOnly,
          node.exportClause,
          replace(node.moduleSpecifier),
          node.attributes,
        );
      }
      if (
        ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) &&
        ts.isStringLiteral(node.argument.literal)
      ) {
        return factory.updateImportTypeNode(
          node,
          factory.createLiteralTypeNode(replace(node.argument.literal)),
          node.attributes,
          node.qualifier,
          node.typeArguments,
          node.isTypeOf,
        );
      }
      return ts.visitEachChild(node, visit, context);
    }
    return ts.visitEachChild(root, visit, context) as T;
  };
}
