export * from './client';
export * from './errors';
export * from './secrets';
export * from './rollout';
export {
  WORKLOAD_KINDS,
  PROGRESS_DEADLINE_REASON,
  rolloutStatus,
  type WorkloadObject,
} from './rollout-status';
export * from './secret-refs';
export * from './consumers';
export * from './network-policies';
export * from './pod-templates';
export * from './decisions';
