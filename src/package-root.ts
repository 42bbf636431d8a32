import fs from 'node:fs';
import path from 'node:path';

/**
 * The directory holding the project's package.json (config/, tools/ beside it), found by
 * walking up from this file: the same answer from src/ (tsx), dist/ (the image) and the
 * per-run build tree the test runner compiles, whatever their depth.
 */
function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(__dirname);
