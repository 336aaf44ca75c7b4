// The network of `bench/bench.ts`'s workloads a, b, c8 and c32: two network
// namespaces, `dlbench-client` and `dlbench-server`, joined by the delay line
// of `bench/_delay_line.c` (compiled here with cc), which holds each packet
// for a fixed one-way delay before passing it on. Loopback has neither a
// round trip nor a limit; this path has a real round trip that TCP sees
// (unlike a TCP proxy, which would hide TCP's window), and no limit but the
// machine's.
//
// Needs root, and a kernel with network namespaces and TUN (`/dev/net/tun`);
// not `netem`. Setup is idempotent: namespaces and processes a killed run
// left behind (their ids are kept in /run/dlbench/pids) are removed first.

import { join } from "node:path";
import { run } from "./_setup.ts";

/** The client's namespace: contenders run in it. */
export const CLIENT_NS = "dlbench-client";
/** The server's namespace: nginx runs in it. */
export const SERVER_NS = "dlbench-server";
/** The client's address. */
export const CLIENT_IP = "10.77.0.1";
/** The server's address. */
export const SERVER_IP = "10.77.0.2";

const STATE = "/run/dlbench";
const PIDS = join(STATE, "pids");
const CLIENT_DEV = "dlb-client";
const SERVER_DEV = "dlb-server";

/** Options of {@linkcode startNet}. */
export interface NetOptions {
  /** The one-way delay in microseconds (the round trip is twice it). */
  delayUs: number;
  /** Large segments through the TUN devices (IFF_VNET_HDR); else plain packets. */
  gso: boolean;
  /** The links' MTU. */
  mtu: number;
  /** Each direction's queue, in MiB. */
  queueMib: number;
  /** The delay line's SCHED_FIFO priority (0: an ordinary process). */
  fifo: number;
}

/** Ping's round-trip times, in milliseconds. */
export interface Rtt {
  min: number;
  avg: number;
  max: number;
  /** Packets that were lost, of `sent`. */
  lost: number;
  sent: number;
}

/** The two namespaces and the delay line between them. */
export interface Net extends AsyncDisposable {
  /** The argv prefix that runs a command in the client's namespace. */
  clientExec: string[];
  /** The argv prefix that runs a command in the server's namespace. */
  serverExec: string[];
  /** The options the delay line runs with now. */
  options: NetOptions;
  /** Restarts the delay line with other options (the namespaces stay). */
  restart(options: NetOptions): Promise<void>;
  /** The delay line's counters since it (re)started, as it prints them. */
  counters(): Promise<DelayLineCounters>;
  /** The delay line's CPU seconds (user + system) since it (re)started. */
  cpuSeconds(): Promise<number>;
  /** Pings the server from the client. */
  ping(count: number): Promise<Rtt>;
  /** A sysctl's value in the client's namespace. */
  sysctl(name: string): Promise<string>;
}

/** One direction's counters of the delay line. */
export interface DirectionCounters {
  packets: number;
  bytes: number;
  drops: number;
  write_errors: number;
  truncated: number;
  max_queued: number;
  max_late_us: number;
  mean_late_us: number;
  late_over_1ms: number;
}

/** What the delay line prints: a_to_b is client → server. */
export interface DelayLineCounters {
  delay_us: number;
  a_to_b: DirectionCounters;
  b_to_a: DirectionCounters;
}

async function readPids(): Promise<number[]> {
  const text = await Deno.readTextFile(PIDS).catch(() => "");
  return text.split("\n").filter((l) => l !== "").map(Number);
}

/** Remembers a process this bench started, to end it if the run is killed. */
export async function trackPid(pid: number): Promise<void> {
  await Deno.mkdir(STATE, { recursive: true });
  await Deno.writeTextFile(PIDS, `${pid}\n`, { append: true });
}

/** Forgets a process of {@linkcode trackPid} (it has exited). */
export async function untrackPid(pid: number): Promise<void> {
  const left = (await readPids()).filter((p) => p !== pid);
  await Deno.writeTextFile(PIDS, left.map((p) => `${p}\n`).join(""))
    .catch(() => {});
}

/**
 * Ends what an earlier run left: each process it tracked that still runs a
 * program of this bench (nginx with a dlmanager-bench config, or the delay
 * line), then the namespaces.
 */
async function cleanLeftovers(): Promise<void> {
  for (const pid of await readPids()) {
    // (Through ps: Deno reads /proc only with --allow-all.)
    const cmdline = await run("ps", ["-o", "args=", "-p", String(pid)]).catch(
      () => "",
    );
    if (
      cmdline.includes("dlmanager-bench-") || cmdline.includes("delay_line")
    ) {
      try {
        Deno.kill(pid, "SIGTERM");
      } catch {
        // It has just exited.
      }
    }
  }
  await Deno.remove(PIDS).catch(() => {});
  const existing = await run("ip", ["netns", "list"]);
  for (const ns of [CLIENT_NS, SERVER_NS]) {
    if (new RegExp(`^${ns}( |$)`, "m").test(existing)) {
      await run("ip", ["netns", "delete", ns]);
    }
  }
}

/** The delay line, compiled from its source into `work`. */
async function buildDelayLine(bench: string, work: string): Promise<string> {
  const binary = join(work, "delay_line");
  await run("cc", [
    "-O2",
    "-Wall",
    "-o",
    binary,
    join(bench, "_delay_line.c"),
  ]);
  return binary;
}

/**
 * Sets up the namespaces and starts the delay line between them; the
 * returned `Net` removes them all when disposed.
 */
export async function startNet(
  bench: string,
  work: string,
  initial: NetOptions,
): Promise<Net> {
  if (Deno.uid() !== 0) {
    throw new Error("the network workloads need root (network namespaces)");
  }
  await cleanLeftovers();
  const binary = await buildDelayLine(bench, work);
  for (const ns of [CLIENT_NS, SERVER_NS]) {
    await run("ip", ["netns", "add", ns]);
    await run("ip", ["-n", ns, "link", "set", "lo", "up"]);
    // IPv4 only: no router solicitations and the like on the wire.
    for (const conf of ["all", "default"]) {
      await run("ip", [
        "netns",
        "exec",
        ns,
        "sysctl",
        "-qw",
        `net.ipv6.conf.${conf}.disable_ipv6=1`,
      ]);
    }
  }
  const clientExec = ["ip", "netns", "exec", CLIENT_NS];
  const serverExec = ["ip", "netns", "exec", SERVER_NS];

  let child: Deno.ChildProcess | undefined;
  let lines: ReadableStreamDefaultReader<string> | undefined;
  let options = initial;
  let buffered = "";

  async function nextLine(): Promise<string> {
    for (;;) {
      const end = buffered.indexOf("\n");
      if (end >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        return line;
      }
      const chunk = await lines?.read();
      if (chunk === undefined || chunk.done) {
        throw new Error("the delay line exited");
      }
      buffered += chunk.value;
    }
  }

  async function stop(): Promise<DelayLineCounters | undefined> {
    if (child === undefined) return undefined;
    const stopping = child;
    child = undefined;
    try {
      stopping.kill("SIGTERM");
    } catch {
      // Already gone (e.g. a Ctrl-C reached it first).
    }
    let counters: DelayLineCounters | undefined;
    try {
      counters = JSON.parse(await nextLine()) as DelayLineCounters;
    } catch {
      counters = undefined;
    }
    await stopping.status;
    await untrackPid(stopping.pid);
    return counters;
  }

  async function start(next: NetOptions): Promise<void> {
    options = next;
    buffered = "";
    child = new Deno.Command(binary, {
      args: [
        "--delay-us",
        String(next.delayUs),
        "--queue-mib",
        String(next.queueMib),
        ...(next.gso ? [] : ["--no-gso"]),
        "--fifo",
        String(next.fifo),
        `/run/netns/${CLIENT_NS}`,
        CLIENT_DEV,
        `/run/netns/${SERVER_NS}`,
        SERVER_DEV,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    await trackPid(child.pid);
    lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const ready = await nextLine();
    if (ready !== "ready") throw new Error(`delay line: ${ready}`);
    // The devices exist from now until it exits; address them as the two
    // ends of a point-to-point link.
    for (
      const [ns, dev, local, peer] of [
        [CLIENT_NS, CLIENT_DEV, CLIENT_IP, SERVER_IP],
        [SERVER_NS, SERVER_DEV, SERVER_IP, CLIENT_IP],
      ] as const
    ) {
      await run("ip", [
        "-n",
        ns,
        "addr",
        "add",
        local,
        "peer",
        peer,
        "dev",
        dev,
      ]);
      await run("ip", [
        "-n",
        ns,
        "link",
        "set",
        dev,
        "mtu",
        String(next.mtu),
        "txqueuelen",
        "10000",
        "up",
      ]);
    }
  }

  await start(initial);
  return {
    clientExec,
    serverExec,
    get options(): NetOptions {
      return options;
    },
    async restart(next: NetOptions): Promise<void> {
      await stop();
      await start(next);
    },
    async counters(): Promise<DelayLineCounters> {
      if (child === undefined) throw new Error("the delay line is stopped");
      child.kill("SIGUSR1");
      return JSON.parse(await nextLine()) as DelayLineCounters;
    },
    async cpuSeconds(): Promise<number> {
      if (child === undefined) return NaN;
      const stat = await run("cat", [`/proc/${child.pid}/stat`]);
      // Fields after the command's closing parenthesis: utime and stime are
      // the 12th and 13th (clock ticks, 100 a second on Linux).
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    async ping(count: number): Promise<Rtt> {
      const output = await run(clientExec[0] as string, [
        ...clientExec.slice(1),
        "ping",
        "-q",
        "-c",
        String(count),
        "-i",
        "0.2",
        SERVER_IP,
      ]);
      const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\//.exec(output);
      const loss = /(\d+) packets transmitted, (\d+) received/.exec(output);
      return {
        min: Number(rtt?.[1]),
        avg: Number(rtt?.[2]),
        max: Number(rtt?.[3]),
        sent: Number(loss?.[1]),
        lost: Number(loss?.[1]) - Number(loss?.[2]),
      };
    },
    async sysctl(name: string): Promise<string> {
      return (await run("ip", [
        "netns",
        "exec",
        CLIENT_NS,
        "sysctl",
        "-n",
        name,
      ])).trim().replaceAll("\t", " ");
    },
    async [Symbol.asyncDispose](): Promise<void> {
      await stop();
      for (const ns of [CLIENT_NS, SERVER_NS]) {
        await run("ip", ["netns", "delete", ns]).catch(() => "");
      }
    },
  };
}
