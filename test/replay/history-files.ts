// Where a recorder writes a history: test/replay/<name>.<era>.json, never over an existing file
// (a history is what a run of its era did; re-recording one would hide the replay failure it
// exists to catch).
import fs from 'node:fs';
import path from 'node:path';

/** The era a recorder was asked for (its first argument that is not a flag), else `fallback`. */
export function eraTag(fallback?: string): string | undefined {
  return process.argv.slice(2).find((a) => !a.startsWith('--')) ?? fallback;
}

export function writeHistory(name: string, tag: string | undefined, json: string): string {
  const file = tag ? `${name}.${tag}.json` : `${name}.json`;
  const target = path.join(__dirname, file);
  if (fs.existsSync(target))
    throw new Error(`${file} exists: histories are never re-recorded; record a new era under a new tag`);
  fs.writeFileSync(target, json);
  return file;
}
