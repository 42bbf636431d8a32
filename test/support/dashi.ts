// config/dashi.yaml, read once for every test that runs against the committed inventory.
import fs from 'node:fs';
import path from 'node:path';
import { parseInventory } from '../../src/inventory';

/** config/dashi.yaml's text, for tests that move it into their own namespaces. */
export const DASHI_YAML = fs.readFileSync(path.join(__dirname, '..', '..', 'config', 'dashi.yaml'), 'utf8');
export const inventory = parseInventory(DASHI_YAML, 'config/dashi.yaml');
export const ZONES = inventory.zones.map((z) => z.name);
