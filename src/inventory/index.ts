// Everything in one import for the CLI, the worker and activities.
// Workflows must NOT import this barrel: load.ts pulls in node:fs and yaml, which the
// workflow bundle refuses. They import './policy', './lookup', './duration' and types.
export * from './schema';
export * from './duration';
export * from './policy';
export * from './lookup';
export {
  InventoryError,
  formatIssue,
  formatPath,
  loadInventory,
  parseInventory,
  type InventoryIssue,
} from './load';
