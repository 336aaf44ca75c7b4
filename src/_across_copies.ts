// `instanceof` across copies of the library in one process: the npm
// package's ES module and CommonJS builds are two copies (an app importing
// one and a dependency requiring the other), as are two versions of the
// package. Each has its own classes, so a plain `instanceof` of one copy's
// class is false of the other copy's errors and events.

/**
 * Makes `instanceof type` also true of the objects made by another copy of
 * this library in the process. The class's prototype carries a mark under a
 * key every copy shares (`Symbol.for`), inherited by subclasses' objects; a
 * caller's own subclass of it keeps the plain check.
 *
 * @example
 * ```ts
 * class Sample extends Error {}
 * recognizedAcrossCopies(Sample, "Sample");
 * ```
 */
export function recognizedAcrossCopies(
  type: abstract new (...args: never[]) => object,
  name: string,
): void {
  const mark = Symbol.for(`@x/dlmanager/${name}`);
  Object.defineProperty(type.prototype, mark, { value: true });
  Object.defineProperty(type, Symbol.hasInstance, {
    value(this: unknown, value: unknown): boolean {
      return Function.prototype[Symbol.hasInstance].call(this, value) ||
        (this === type && typeof value === "object" && value !== null &&
          mark in value);
    },
  });
}
