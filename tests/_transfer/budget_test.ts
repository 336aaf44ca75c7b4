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
