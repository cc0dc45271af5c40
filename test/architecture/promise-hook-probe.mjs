// Loaded into a server process with `node --import` by
// no-promise-hooks.e2e.test.ts. On SIGUSR2 it looks whether V8's promise
// hooks are on in this process and writes the answer to stderr: a promise
// continuation has an async id only when they are (AsyncLocalStorage.run,
// async_hooks.createHook and the like turn them on, for good).
import { executionAsyncId } from "node:async_hooks";

process.on("SIGUSR2", () => {
  Promise.resolve().then(() => {
    process.stderr.write(`promise-hook-probe: ${executionAsyncId() === 0 ? "off" : "on"}\n`);
  });
});
process.stderr.write("promise-hook-probe: ready\n");
