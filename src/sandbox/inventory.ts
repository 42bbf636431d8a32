import fs from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { type StoreKind } from './store-process';

export const DASHI_INVENTORY = path.join(__dirname, '..', '..', 'config', 'dashi.yaml');

/**
 * The seed's inventory pointed at the sandbox: same zones, Secrets and consumers, with
 * the store section naming the local store process. Comments are kept, so the file reads
 * like the original.
 */
export function sandboxInventory(
  store: { kind: StoreKind; endpoint: string },
  overrides: {
    grace?: string;
    restartTimeout?: string;
    pauseTimeout?: string;
    /** The inventory's notification sinks, as written in YAML. */
    notifications?: object[];
  } = {},
  source = DASHI_INVENTORY,
): string {
  const doc = parseDocument(fs.readFileSync(source, 'utf8'));
  doc.setIn(['store', 'kind'], store.kind);
  doc.setIn(['store', 'endpoint'], store.endpoint);
  doc.setIn(['store', 'adminApi'], store.kind === 'minio' ? 'madmin' : 'rustfs');
  if (overrides.grace) doc.setIn(['defaults', 'grace'], overrides.grace);
  if (overrides.restartTimeout) doc.setIn(['store', 'restartTimeout'], overrides.restartTimeout);
  if (overrides.pauseTimeout) doc.setIn(['store', 'pauseTimeout'], overrides.pauseTimeout);
  if (overrides.notifications) doc.set('notifications', doc.createNode(overrides.notifications));
  return doc.toString();
}
