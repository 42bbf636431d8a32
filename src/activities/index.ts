import { createAnnounceActivities } from './announce';
import { createDecisionActivities } from './decisions';
import { type ActivityDeps } from './deps';
import { historySafe, type InventorySnapshot } from '../inventory';
import { withTypedFailures } from './failures';
import { createKubernetesActivities } from './kubernetes';
import { createLockActivities } from './locks';
import { createNetworkPolicyActivities } from './network-policies';
import { createPrefectActivities } from './prefect';
import { createSmokeActivities } from './smoke';
import { createStoreActivities } from './store';
import { createStoreNodeActivities } from './store-nodes';
import { createTemporalActivities } from './temporal';

export type { ActivityDeps } from './deps';

/** Every activity the workflows call, built from injected dependencies. */
export function createActivities(deps: ActivityDeps) {
  return withTypedFailures({
    ...createKubernetesActivities(deps),
    ...createStoreActivities(deps),
    ...createStoreNodeActivities(deps),
    ...createSmokeActivities(deps),
    ...createTemporalActivities(deps),
    ...createLockActivities(deps),
    ...createPrefectActivities(deps),
    ...createNetworkPolicyActivities(deps),
    ...createAnnounceActivities(deps),
    ...createDecisionActivities(deps),
    /**
     * The inventory the worker runs with, recorded once in each workflow's history: without
     * the notification sinks, whose URLs may be credentials (the announce activity reads them).
     */
    async inventorySnapshot(): Promise<InventorySnapshot> {
      return historySafe(deps.inventory);
    },
  });
}

export type Activities = ReturnType<typeof createActivities>;
