// What a running sandbox exposes. `sandbox up` writes it as JSON to <dir>/state.json and
// the test runner passes that path to every test process in ROTATOR_SANDBOX_STATE.
export interface SandboxState {
  /** Temp dir holding every process's data, logs and the kubeconfig. */
  dir: string;
  /** config/dashi.yaml with its store section pointed at the sandbox's store. */
  inventory: string;
  temporal: {
    /** host:port of the frontend gRPC service. */
    address: string;
    namespace: string;
    uiUrl: string;
  };
  kube: {
    /** https://127.0.0.1:<port> */
    server: string;
    /** kubeconfig for the admin token (system:masters). */
    kubeconfig: string;
    /** PEM file of the CA that signed the apiserver's serving cert. */
    caFile: string;
    adminToken: string;
    /** A static token whose user has no RBAC bindings at all. */
    noPermissionToken: string;
  };
  store: {
    kind: 'minio' | 'rustfs';
    /** http://127.0.0.1:<port> — S3 and admin API (a distributed store's load balancer). */
    endpoint: string;
    /**
     * A distributed store's nodes, one per StatefulSet pod, each reached directly (not through
     * the load balancer). Absent for a single store process.
     */
    nodes?: Array<{ pod: string; endpoint: string }>;
    region: string;
    rootSecret: { namespace: string; name: string };
    workload: { kind: 'StatefulSet'; namespace: string; name: string };
  };
  /**
   * The payload codec of this sandbox: ROTATOR_CODEC_KEY / ROTATOR_CODEC_KEY_ID for a worker
   * and the CLI, and the codec server the Web UI is already pointed at.
   */
  codec: { keyId: string; key: string; endpoint: string };
  /** The sandbox's Prefect server, holding the seed's work pool. */
  prefect: {
    /** http://127.0.0.1:<port>/api */
    api: string;
    /** Its basic-auth "user:password" (PREFECT_API_AUTH_STRING for a worker). */
    authString: string;
  };
  /**
   * Where a worker started with this state serves /metrics unless ROTATOR_METRICS_ADDRESS says
   * otherwise (host:port on loopback). Absent in state files written before metrics existed.
   */
  metrics?: { address: string; url: string };
  agent: {
    /** http://127.0.0.1:<port> of the node agent's control API (see node-agent.ts). */
    url: string;
  };
}

export const SANDBOX_STATE_ENV = 'ROTATOR_SANDBOX_STATE';
