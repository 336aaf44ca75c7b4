// A timer that does not keep the process alive: Deno's `setInterval` gives
// a number, which `Deno.unrefTimer` takes; Node's and Bun's give an object
// with `unref()`. No module is loaded for it (see `fs.ts`: Deno's Node
// compatibility modules cost its start-up more than the library).

/**
 * Lets the process exit while `timer` (what `setInterval` or `setTimeout`
 * returned) is pending; where the runtime cannot, it keeps the process
 * alive as any timer does.
 *
 * @example
 * ```ts
 * const timer = setInterval(() => {}, 1000);
 * unrefTimer(timer); // the process may exit all the same
 * ```
 */
export function unrefTimer(timer: unknown): void {
  if (typeof timer === "number") {
    const deno = (globalThis as {
      Deno?: { unrefTimer?: (id: number) => void };
    }).Deno;
    deno?.unrefTimer?.(timer);
  } else {
    (timer as { unref?: () => void } | undefined)?.unref?.();
  }
}
