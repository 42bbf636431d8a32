import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../package-root';

interface ToolSpec {
  version: string;
  binaries: string[];
}

const versionsFile = path.join(PACKAGE_ROOT, 'tools', 'versions.json');
const INSTALL_HINT = 'node scripts/install-tools.mjs';

export function toolsCacheRoot(): string {
  return process.env.ROTATOR_TOOLS_DIR ?? path.join(os.homedir(), '.cache', 'rustfs-rotator', 'tools');
}

/** ROTATOR_<BINARY>_BIN, with the object store under the neutral name ROTATOR_STORE_BIN. */
export function overrideVariable(binary: string): string {
  const name = binary === 'minio' ? 'store' : binary;
  return `ROTATOR_${name.replace(/-/g, '_').toUpperCase()}_BIN`;
}

/**
 * Path of a pinned binary: the override variable when set, else the version-keyed cache.
 * Missing binaries fail with the command that builds them.
 */
export function toolPath(binary: string): string {
  const override = process.env[overrideVariable(binary)];
  if (override) {
    if (!fs.existsSync(override)) {
      throw new Error(`${overrideVariable(binary)}=${override}: no such file`);
    }
    return override;
  }
  const versions = JSON.parse(fs.readFileSync(versionsFile, 'utf8')) as Record<string, ToolSpec>;
  const entry = Object.entries(versions).find(([, spec]) => spec.binaries?.includes(binary));
  if (!entry) throw new Error(`no pinned tool provides "${binary}" (tools/versions.json)`);
  const [name, spec] = entry;
  const file = path.join(toolsCacheRoot(), `${name}-${spec.version}`, binary);
  if (!fs.existsSync(file) || !fs.existsSync(path.join(path.dirname(file), '.complete'))) {
    throw new Error(
      `${binary} ${spec.version} is not installed (looked in ${path.dirname(file)}). ` +
        `Build it with: ${INSTALL_HINT}  (or point ${overrideVariable(binary)} at a binary)`,
    );
  }
  return file;
}
