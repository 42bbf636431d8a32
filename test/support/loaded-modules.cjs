/* global process, require */
// Preloaded (node --require) into a CLI process by test/unit/cli-lazy-load.test.ts: at exit,
// writes the files the process loaded as one JSON line on stderr.
process.on('exit', () => {
  process.stderr.write(`LOADED-MODULES ${JSON.stringify(Object.keys(require.cache))}\n`);
});
