// A small CPU workload for `node --cpu-prof` (testdata/node/record.sh):
// a hot loop, a recursive function, a string builder and an async part
// that sleeps on a timer between bursts, about half a second in all.
'use strict';

function spin(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) {
    x += Math.sqrt(x + 1);
  }
  return x;
}

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

function buildStrings(n) {
  let s = '';
  for (let i = 0; i < n; i++) {
    s += String.fromCharCode(97 + (i % 26));
    if (s.length > 1000) s = s.slice(500);
  }
  return s.length;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function worker() {
  for (let i = 0; i < 3; i++) {
    spin(30);
    await sleep(20);
  }
}

async function main() {
  spin(100);
  fib(27);
  buildStrings(2e6);
  await worker();
  fib(25);
}

main();
