'use strict';
/* global require */
// The devhost benchmark app (plain JavaScript, Node v4 programming model): `Chain` calls `Step` 5 times in
// sequence, feeding each result into the next call, and returns the results. `Step` returns input + 1.
// The JSDoc casts only keep the repository's type-aware lint rules satisfied; nothing compiles this file.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const df = require('durable-functions');

const STEPS = 5;

df.app.orchestration('Chain', function* (context) {
  const input = /** @type {unknown} */ (context.df.getInput());
  let value = typeof input === 'number' ? input : 0;
  /** @type {number[]} */
  const results = [];
  for (let i = 0; i < STEPS; i++) {
    value = Number(/** @type {unknown} */ (yield context.df.callActivity('Step', value)));
    results.push(value);
  }
  return results;
});

df.app.activity('Step', {
  handler: (input) => Number(input) + 1,
});
