import { type Client } from '@temporalio/client';
import { type Inventory } from '../inventory';
import { type Kube } from '../kube';
import { type PrefectClient } from '../prefect/client';
import { type AdminClient, type Credentials, type S3Ops } from '../rustfs';

/** Everything activities touch, built once by the worker (or a test) and injected. */
export interface ActivityDeps {
  inventory: Inventory;
  kube: Kube;
  /**
   * An admin client for the store bound to the given credential: through the store's
   * endpoint, or one node's own (`endpoint`, from store.nodeEndpoints).
   */
  admin: (credentials: Credentials, endpoint?: string) => AdminClient;
  /** An S3 client for the store bound to the given credential: through the store's endpoint, or one node's own. */
  s3: (credentials: Credentials, endpoint?: string) => S3Ops;
  /** Prefect's API, with the worker's credentials for it (work pools of the zones). */
  prefect: PrefectClient;
  /** For the root/zone mutual-exclusion check. */
  temporal: { client: Client; namespace: string };
  /** The Temporal Web UI's base URL: notifications link to the run's page (ROTATOR_WEB_UI_URL). */
  webUiUrl?: string;
  /** Where `urlFrom: {env}` sink URLs are read (default process.env). */
  env?: Record<string, string | undefined>;
  /** reportingInstance of the Events this worker records (default host-pid). */
  instance?: string;
  /** How often long waits poll and heartbeat; tests shorten it. */
  pollIntervalMs?: number;
}
