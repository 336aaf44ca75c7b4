import assert from "node:assert/strict";
import { test } from "node:test";
import { ConnectionBudget } from "../../src/_transfer/budget.ts";

test("ConnectionBudget counts first connections whatever the count, and more only under the budget", () => {
  const budget = new ConnectionBudget(3);
  budget.acquireFirst("a:80");
  budget.acquireFirst("a:80");
  assert.equal(budget.tryAcquire("a:80"), true);
  assert.equal(budget.tryAcquire("a:80"), false);
  budget.acquireFirst("a:80");
  assert.equal(budget.open("a:80"), 4);
  // Another host has a budget of its own.
  assert.equal(budget.tryAcquire("b:80"), true);
  budget.release("a:80");
  budget.release("a:80");
  assert.equal(budget.tryAcquire("a:80"), true);
  assert.equal(budget.open("a:80"), 3);
  assert.equal(budget.max, 3);
});

test("ConnectionBudget forgets a host whose connections are all released", () => {
  const budget = new ConnectionBudget(Infinity);
  budget.acquireFirst("h");
  budget.release("h");
  assert.equal(budget.open("h"), 0);
  assert.equal(budget.tryAcquire("h"), true);
});

test("ConnectionBudget counts the connections transferring, and wakes those waiting on a host when one stops", async () => {
  const budget = new ConnectionBudget(Infinity);
  budget.startTransferring("a:80");
  budget.startTransferring("a:80");
  assert.equal(budget.transferring("a:80"), 2);
  assert.equal(budget.transferring("b:80"), 0);
  const woken: string[] = [];
  const a = budget.transferEnds("a:80", new AbortController().signal)
    .then(() => woken.push("a"));
  const b = budget.transferEnds("b:80", new AbortController().signal)
    .then(() => woken.push("b"));
  budget.stopTransferring("a:80");
  await a;
  assert.deepEqual(woken, ["a"]);
  assert.equal(budget.transferring("a:80"), 1);
  budget.startTransferring("b:80");
  budget.stopTransferring("b:80");
  await b;
  assert.deepEqual(woken, ["a", "b"]);
});

test("ConnectionBudget.transferEnds rejects with the signal's reason when it aborts, at once", async () => {
  const budget = new ConnectionBudget(Infinity);
  budget.startTransferring("a:80");
  const cancel = new AbortController();
  const waiting = budget.transferEnds("a:80", cancel.signal);
  const reason = new Error("canceled");
  cancel.abort(reason);
  await assert.rejects(waiting, (error) => error === reason);
  await assert.rejects(
    budget.transferEnds("a:80", cancel.signal),
    (error) => error === reason,
  );
  // The aborted wait is forgotten: a stop wakes nothing left behind.
  budget.stopTransferring("a:80");
  assert.equal(budget.transferring("a:80"), 0);
});
