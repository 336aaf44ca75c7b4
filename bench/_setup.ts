// What `bench/bench.ts` needs before it can time anything: the tools (curl,
// aria2c, nginx, GNU time, and for the network workloads wget, axel, ping and
// cc), the generated data, an HTTP server (on 127.0.0.1, or in the server's
// network namespace), this library built for Node, and a description of the
// machine.

import { createHash, randomFillSync } from "node:crypto";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";

/** One file the server offers. */
export interface FileSpec {
  /** Its name, unique within its workload. */
  name: string;
  /** Its size in bytes. */
  size: number;
  /** Its sha256, hex. */
  sha256: string;
}

/** A set of files downloaded together, with a bounded concurrency. */
export interface Workload {
  /** Short name, used by `--only`: `1g`, `64k`, `4k`, `a`, `b`, `c8`, `c32`. */
  id: string;
  /** What it is, for the report. */
  title: string;
  /** How many downloads run at once. */
  concurrency: number;
  /** Whether it goes through the delay line (else over 127.0.0.1). */
  net: boolean;
  /** The files' path on the server, from `/` and ending in `/`. */
  path: string;
  /** The files, served under `path`. */
  files: FileSpec[];
  /** The sum of the files' sizes. */
  bytes: number;
}

/** How a workload is made: its files, where they are served, and how fetched. */
export interface WorkloadSpec {
  title: string;
  count: number;
  size: number;
  concurrency: number;
  /** Over the delay line (the server's namespace) rather than 127.0.0.1. */
  net?: boolean;
  /** The data set's directory, when workloads share one (else the id). */
  data?: string;
  /** A location of the server before the data set's directory (e.g. `capped/`). */
  location?: string;
}

const KIB = 1024;
const MIB = 1024 * KIB;

/**
 * The workloads, by id. `1g`, `64k` and `4k` are served on 127.0.0.1; `a`,
 * `b`, `c8` and `c32` through the delay line (40 ms round trip; the server's
 * `capped/` location sends at most 20 MiB/s per connection, nginx's
 * `limit_rate 20m`).
 */
export const WORKLOADS: Record<string, WorkloadSpec> = {
  "1g": {
    title: "1 file of 1 GiB",
    count: 1,
    size: 1024 * MIB,
    concurrency: 1,
  },
  "64k": {
    title: "1,000 files of 64 KiB, 8 at a time",
    count: 1000,
    size: 64 * KIB,
    concurrency: 8,
  },
  "4k": {
    title: "10,000 files of 4 KiB, 16 at a time",
    count: 10000,
    size: 4 * KIB,
    concurrency: 16,
  },
  "a": {
    title: "A: 1 file of 512 MiB, 40 ms RTT, 20 MiB/s per connection",
    count: 1,
    size: 512 * MIB,
    concurrency: 1,
    net: true,
    data: "512m",
    location: "capped/",
  },
  "b": {
    title: "B: 1 file of 512 MiB, 40 ms RTT, no cap per connection",
    count: 1,
    size: 512 * MIB,
    concurrency: 1,
    net: true,
    data: "512m",
  },
  "c8": {
    title: "C: 1,000 files of 64 KiB, 40 ms RTT, 8 at a time",
    count: 1000,
    size: 64 * KIB,
    concurrency: 8,
    net: true,
    data: "1000x64k",
  },
  "c32": {
    title: "C: 1,000 files of 64 KiB, 40 ms RTT, 32 at a time",
    count: 1000,
    size: 64 * KIB,
    concurrency: 32,
    net: true,
    data: "1000x64k",
  },
};

// The untimed warm-up (so that Deno's module cache and the like are filled).
const SPECS: Record<string, WorkloadSpec> = {
  ...WORKLOADS,
  warm: { title: "warm-up", count: 8, size: 4 * KIB, concurrency: 2 },
  "warm-net": {
    title: "warm-up",
    count: 8,
    size: 4 * KIB,
    concurrency: 2,
    net: true,
    data: "warm",
  },
};

/** Runs a command to its end; returns its stdout, or throws with its stderr. */
export async function run(cmd: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(cmd, { args, stdin: "null" }).output();
  const text = new TextDecoder();
  if (!output.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${output.code}): ${
        text.decode(output.stderr)
      }`,
    );
  }
  return text.decode(output.stdout) + text.decode(output.stderr);
}

/** Whether `cmd` is on the PATH. */
export async function which(cmd: string): Promise<string | undefined> {
  try {
    return (await run("sh", ["-c", `command -v ${cmd}`])).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure the tools are there; as root, installs the missing ones with
 * apt-get (Debian's `nginx-light`, `aria2`, `curl`, `time`, and for the
 * network workloads `wget`, `axel`, `iputils-ping`, `iproute2` and `gcc`).
 * Returns the notes to print (what was installed, what is missing).
 */
export async function ensureTools(
  install: boolean,
  net: boolean,
): Promise<string[]> {
  const wanted: Record<string, string> = {
    "curl": "curl",
    "aria2c": "aria2",
    "nginx": "nginx-light",
    "/usr/bin/time": "time",
    "wget": "wget",
    "axel": "axel",
    ...(net ? { "ping": "iputils-ping", "ip": "iproute2", "cc": "gcc" } : {}),
  };
  const missing: string[] = [];
  for (const [cmd, pkg] of Object.entries(wanted)) {
    if (await which(cmd) === undefined) missing.push(pkg);
  }
  if (missing.length === 0) return [];
  const isRoot = Deno.uid() === 0;
  if (!install || !isRoot) {
    return [
      `not installed (${isRoot ? "--no-install" : "not root"}): ${
        missing.join(", ")
      }`,
    ];
  }
  console.log(`installing with apt-get: ${missing.join(", ")}`);
  await run("apt-get", ["update", "-qq"]);
  await run("apt-get", [
    "install",
    "-y",
    "-qq",
    "--no-install-recommends",
    ...missing,
  ]);
  return [`installed with apt-get: ${missing.join(", ")}`];
}

/**
 * Writes the workloads' files under `root/<data set>/` (once for the
 * workloads that share a data set) and returns them with their hashes.
 */
export async function generateData(
  root: string,
  ids: string[],
): Promise<Workload[]> {
  const workloads: Workload[] = [];
  const generated = new Map<string, FileSpec[]>();
  const block = new Uint8Array(4 * MIB);
  for (const id of ids) {
    const spec = SPECS[id];
    if (spec === undefined) throw new Error(`Unknown workload "${id}"`);
    const data = spec.data ?? id;
    let files = generated.get(data);
    if (files === undefined) {
      files = [];
      const dir = join(root, data);
      await Deno.mkdir(dir, { recursive: true });
      const digits = String(spec.count - 1).length;
      for (let i = 0; i < spec.count; i++) {
        const name = `f${String(i).padStart(digits, "0")}.bin`;
        const hash = createHash("sha256");
        using file = await Deno.open(join(dir, name), {
          write: true,
          createNew: true,
        });
        for (let left = spec.size; left > 0;) {
          const bytes = block.subarray(0, Math.min(left, block.byteLength));
          randomFillSync(bytes);
          hash.update(bytes);
          for (let done = 0; done < bytes.byteLength;) {
            done += await file.write(bytes.subarray(done));
          }
          left -= bytes.byteLength;
        }
        files.push({ name, size: spec.size, sha256: hash.digest("hex") });
      }
      generated.set(data, files);
    }
    workloads.push({
      id,
      title: spec.title,
      concurrency: spec.concurrency,
      net: spec.net ?? false,
      path: `/${spec.location ?? ""}${data}/`,
      files,
      bytes: spec.size * spec.count,
    });
  }
  return workloads;
}

/** What the server saw of one run: from its access log. */
export interface Served {
  /** The TCP connections the requests came on. */
  connections: number;
  /** The requests. */
  requests: number;
  /** The body bytes sent, in all. */
  bytes: number;
}

/** A running HTTP server serving the data directory. */
export interface Server extends AsyncDisposable {
  /** The URL the data directory is at, ending in `/`. */
  base: string;
  /** What it is, for the report (e.g. `nginx/1.22.1, sendfile on`). */
  description: string;
  /**
   * What the server saw since the last call, once the client's connections
   * are closed (nginx only: it reads nginx's access log).
   */
  served?(): Promise<Served>;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** Where nginx listens, and how it is run. */
export interface NginxOptions {
  /** The address to listen on. @default {"127.0.0.1"} */
  host?: string;
  /** The port. @default {a free port of 127.0.0.1} */
  port?: number;
  /** An argv prefix to run it with (e.g. `ip netns exec NS`). @default {[]} */
  exec?: string[];
  /** Told nginx's process id once it runs. */
  onStart?: (pid: number) => unknown;
  /** Told nginx's process id once it has exited. */
  onExit?: (pid: number) => unknown;
}

/**
 * Starts nginx serving `root`, with sendfile, one worker, keep-alive for as
 * many requests as a client sends, a location `/capped/` (the same files, at
 * most 20 MiB/s per connection: `limit_rate 20m`), and an access log of each
 * request's connection serial, status and body bytes (read by `served()`).
 * Resolves once nginx says its worker is started (its `notice` log on stderr).
 */
export async function startNginx(
  root: string,
  work: string,
  options: NginxOptions = {},
): Promise<Server> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? freePort();
  const exec = options.exec ?? [];
  const temp = join(work, `nginx-${host}`);
  await Deno.mkdir(temp, { recursive: true });
  const conf = join(temp, "nginx.conf");
  const accessLog = join(temp, "access.log");
  await Deno.writeTextFile(
    conf,
    `${Deno.uid() === 0 ? "user root root;\n" : ""}worker_processes 1;
daemon off;
pid ${temp}/nginx.pid;
error_log stderr notice;
events { worker_connections 4096; }
http {
  log_format bench '$connection $connection_requests $status $body_bytes_sent';
  access_log ${accessLog} bench;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  client_body_temp_path ${temp};
  proxy_temp_path ${temp};
  fastcgi_temp_path ${temp};
  uwsgi_temp_path ${temp};
  scgi_temp_path ${temp};
  server {
    listen ${host}:${port};
    root ${root};
    location /capped/ {
      alias ${root}/;
      limit_rate 20m;
    }
  }
}
`,
  );
  const [cmd, ...args] = [...exec, "nginx", "-e", "stderr", "-c", conf];
  const child = new Deno.Command(cmd as string, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  await options.onStart?.(child.pid);
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  let version = "nginx";
  for (;;) {
    const { done, value } = await lines.read();
    if (done) {
      await child.status;
      throw new Error(`nginx did not start:\n${log}`);
    }
    log += value;
    version = /nginx\/[\d.]+/.exec(log)?.[0] ?? version;
    if (log.includes("start worker process ")) break;
  }
  // Keep draining its log so that nginx never blocks on a full pipe.
  const drained = (async (): Promise<void> => {
    while (!(await lines.read()).done);
  })();
  let logOffset = 0;
  const ss = [...exec, "ss"];
  return {
    base: `http://${host}${port === 80 ? "" : `:${port}`}/`,
    description:
      `${version} (Debian nginx-light), 1 worker, sendfile on, access log on`,
    async served(): Promise<Served> {
      // nginx logs a request when it ends, which for a request the client
      // gave up on is when it sees the connection close: wait until no
      // connection to the server is open or closing on its side.
      for (let i = 0; i < 500; i++) {
        const open = await run(ss[0] as string, [
          ...ss.slice(1),
          "-Htn",
          "state",
          "established",
          "state",
          "close-wait",
          "state",
          "syn-recv",
          `( sport = :${port} )`,
        ]);
        if (open.trim() === "") break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const fresh = (await Deno.readFile(accessLog)).subarray(logOffset);
      // Up to the last whole line (the log is ASCII).
      const whole = fresh.lastIndexOf(0x0a) + 1;
      logOffset += whole;
      const complete = new TextDecoder().decode(fresh.subarray(0, whole));
      const connections = new Set<string>();
      let requests = 0;
      let bytes = 0;
      for (const line of complete.split("\n")) {
        const [connection, , , sent] = line.split(" ");
        if (connection === undefined || sent === undefined) continue;
        connections.add(connection);
        requests++;
        bytes += Number(sent);
      }
      return { connections: connections.size, requests, bytes };
    },
    async [Symbol.asyncDispose](): Promise<void> {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone (a Ctrl-C reaches it too).
      }
      await child.status;
      await options.onExit?.(child.pid);
      await drained.catch(() => {});
    },
  };
}

/** The fallback: a small `Deno.serve` file server, in this process. */
export function startBuiltin(root: string): Server {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen(): void {} },
    async (request): Promise<Response> => {
      const path = decodeURIComponent(new URL(request.url).pathname);
      if (path.includes("..")) return new Response(null, { status: 403 });
      try {
        const file = await Deno.open(join(root, path));
        const { size } = await file.stat();
        return new Response(file.readable, {
          headers: { "content-length": String(size) },
        });
      } catch {
        return new Response(null, { status: 404 });
      }
    },
  );
  return {
    base: `http://127.0.0.1:${server.addr.port}/`,
    description:
      `built-in Deno.serve file server (Deno ${Deno.version.deno}), in the benchmark's process`,
    async [Symbol.asyncDispose](): Promise<void> {
      await server.shutdown();
    },
  };
}

/**
 * This library for Node: `--node-lib` (an ESM `mod.js`, e.g. the npm build's
 * `npm/esm/mod.js`) when given, else compiled from `mod.ts` into `work` with
 * the `typescript` devDependency's `tsc` (type-stripping only: `--noCheck`,
 * with `.ts` imports rewritten to `.js`). Returns its path and how it was had.
 */
export async function nodeLib(
  repo: string,
  work: string,
  given: string | undefined,
  { source = repo }: { source?: string } = {},
): Promise<{ path: string; how: string }> {
  if (given !== undefined) {
    return { path: given, how: `the given build ${given}` };
  }
  const out = join(work, "node-lib");
  const tsc = join(repo, "node_modules", "typescript", "bin", "tsc");
  await run("node", [
    tsc,
    "--outDir",
    out,
    "--module",
    "esnext",
    "--moduleResolution",
    "bundler",
    "--target",
    "es2022",
    "--rewriteRelativeImportExtensions",
    "--allowImportingTsExtensions",
    "--noCheck",
    "--skipLibCheck",
    "--types",
    "node",
    join(source, "mod.ts"),
  ]);
  await Deno.writeTextFile(join(out, "package.json"), '{ "type": "module" }\n');
  const version = (await run("node", [tsc, "--version"])).trim();
  return {
    path: join(out, "mod.js"),
    how:
      `compiled from mod.ts for this run with tsc (${version}, ES2022 ESM, no type check)`,
  };
}

/** One line each: the machine, the OS, and the versions of what is measured. */
export async function describeMachine(): Promise<Record<string, string>> {
  async function firstLine(cmd: string, args: string[]): Promise<string> {
    try {
      return (await run(cmd, args)).split("\n")[0]?.trim() ?? "?";
    } catch {
      return "not installed";
    }
  }
  const osRelease = await Deno.readTextFile("/etc/os-release").catch(() => "");
  const cpu = cpus();
  return {
    "CPU": `${cpu[0]?.model ?? "?"}, ${cpu.length} cores (shared)`,
    "Memory": `${(totalmem() / 1024 ** 3).toFixed(0)} GiB`,
    "OS": `${
      /PRETTY_NAME="(.*)"/.exec(osRelease)?.[1] ?? Deno.build.os
    }, Linux ${Deno.osRelease()}`,
    "Deno": `${Deno.version.deno} (V8 ${Deno.version.v8})`,
    "Node": await firstLine("node", ["--version"]),
    "curl": (await firstLine("curl", ["--version"])).split(" (")[0] ?? "?",
    "aria2c": await firstLine("aria2c", ["--version"]),
    "wget": (await firstLine("wget", ["--version"])).split(" built")[0] ?? "?",
    "axel": (await firstLine("axel", ["--version"])).split(" (")[0] ?? "?",
  };
}
