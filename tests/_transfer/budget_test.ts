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

test("Slot moves its count to the host an answer came from, whatever the count there, and the download's next connections are counted there", () => {
  const budget = new ConnectionBudget(2);
  const held = budget.first("cdn:80");
  assert.ok(budget.more(held) === undefined); // no answer yet: not known
  held.answeredFrom("cdn:80");
  const more = budget.more(held);
  assert.equal(more?.host, "cdn:80");
  assert.equal(budget.open("cdn:80"), 2);
  // Asked of another host, sent to the full one: counted there.
  const first = budget.first("origin:80");
  assert.equal(first.known, false);
  first.answeredFrom("cdn:80");
  assert.equal(first.known, true);
  assert.equal(budget.open("origin:80"), 0);
  assert.equal(budget.open("cdn:80"), 3);
  assert.equal(budget.more(first), undefined);
  // Released (paused), it counts nowhere; counted again where it was.
  first.release();
  first.release();
  assert.equal(budget.open("cdn:80"), 2);
  first.acquire();
  first.acquire();
  assert.equal(budget.open("cdn:80"), 3);
  // Another source: counted against its host, until it answers.
  first.asks("mirror:80");
  assert.equal(first.known, false);
  assert.equal(budget.open("cdn:80"), 2);
  assert.equal(budget.open("mirror:80"), 1);
  for (const slot of [held, more, first]) slot?.release();
  assert.equal(budget.open("cdn:80") + budget.open("mirror:80"), 0);
});

test("ConnectionBudget.more() counts a download's next connection at once when there is no budget, its host known or not", () => {
  const budget = new ConnectionBudget(Infinity);
  const first = budget.first("origin:80");
  assert.equal(budget.more(first)?.host, "origin:80");
  assert.equal(budget.open("origin:80"), 2);
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
