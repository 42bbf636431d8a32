// The worker's workflowsPath: every workflow type, by its fixed name.
export { BootstrapCluster } from './bootstrap-cluster';
export { RotateZone } from './rotate-zone';
export { RotateRoot } from './rotate-root';
