/**
 * kwok stages for the sandbox. kwok v0.8.0 ships none unless given with `-c`; these are
 * the sandbox's own lifecycle rules:
 * - nodes become Ready;
 * - pods become Running and Ready, except
 *   - pods annotated NEVER_READY, which run but never become Ready (rollout-stuck tests),
 *   - pods annotated AGENT_MANAGED (the object store's), whose status the node agent
 *     sets from the real store process, as a kubelet with a readiness probe would;
 * - deleted pods go away at once.
 */
export const NEVER_READY_ANNOTATION = 'sandbox.rotator.dev/never-ready';
export const AGENT_MANAGED_ANNOTATION = 'sandbox.rotator.dev/agent-managed';
export const FAKE_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

const notDeleting = `
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values: ['Pending']
    - key: '.metadata.annotations["${AGENT_MANAGED_ANNOTATION}"]'
      operator: 'DoesNotExist'`;

const containerStatuses = (ready: boolean) => `
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: ${ready}
        restartCount: 0
        started: true
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        state:
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
      {{ end }}
      {{ with NodeIPsWith .spec.nodeName }}
      hostIP: {{ index . 0 | Quote }}
      {{ end }}
      {{ with PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      podIP: {{ index . 0 | Quote }}
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}`;

const podConditions = (ready: boolean) => `
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: PodScheduled
      - lastTransitionTime: {{ $now | Quote }}
        status: "${ready ? 'True' : 'False'}"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "${ready ? 'True' : 'False'}"
        type: ContainersReady`;

/** A pod that is not being deleted, selected by its NEVER_READY annotation, starts Running (Ready or not). */
const podStage = (name: string, ready: boolean, neverReadyOperator: string) => `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ${name}
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:${notDeleting}
    - key: '.metadata.annotations["${NEVER_READY_ANNOTATION}"]'${neverReadyOperator}
  next:
    statusTemplate: |
      {{ $now := Now }}${podConditions(ready)}${containerStatuses(ready)}`;

export const KWOK_STAGES = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: node-initialize
spec:
  resourceRef:
    apiGroup: v1
    kind: Node
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'NotIn'
      values: ['True']
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $now | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type | Quote }}
      {{ end }}
      addresses:
      {{ with NodeIP }}
      - address: {{ . | Quote }}
        type: InternalIP
      {{ end }}
      {{ with NodeName }}
      - address: {{ . | Quote }}
        type: Hostname
      {{ end }}
      allocatable:
        cpu: 1k
        memory: 1Ti
        pods: 1M
      capacity:
        cpu: 1k
        memory: 1Ti
        pods: 1M
      nodeInfo:
        architecture: amd64
        kubeletVersion: kwok
        operatingSystem: linux
      phase: Running
${podStage(
  'pod-ready',
  true,
  `
      operator: 'DoesNotExist'`,
)}
${podStage(
  'pod-running-never-ready',
  false,
  `
      operator: 'In'
      values: ['true']`,
)}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
  next:
    delete: true
`;
