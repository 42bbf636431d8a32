// The activities of one overlap rotation of zone serving (config/dashi.yaml), mocked for
// workflow tests and for recording replay histories in the time-skipping environment.
import { inventory } from './dashi';
import { mockActivities } from './workflow-env';

export const OLD = 'sha256:aaaaaaaaaaaa';
export const NEW = 'sha256:bbbbbbbbbbbb';

/** The activities of one overlap rotation of zone serving; `holders(n)` answers the n-th pod check. */
export function zoneActivities(holders: (check: number) => string[]) {
  const calls: string[] = [];
  let checks = 0;
  const record =
    <A extends unknown[], T>(name: string, value: (...args: A) => T) =>
    async (...args: A) => {
      calls.push(name);
      return value(...args);
    };
  const activities = mockActivities({
    inventorySnapshot: record('inventorySnapshot', () => inventory),
    assertNoConflictingRun: record('assertNoConflictingRun', () => undefined),
    describeZoneSecret: record('describeZoneSecret', () => ({
      exists: true,
      accessKey: 'svc-old',
      fingerprint: OLD,
      endpointMatches: true,
    })),
    zoneConsumers: record('zoneConsumers', () => [
      { kind: 'Deployment' as const, namespace: 'dashi-serving', name: 'titiler' },
    ]),
    lockZonePending: record('lockZonePending', () => ({
      accessKey: 'svc-new',
      fingerprint: NEW,
      previousAccessKey: 'svc-old',
      previousFingerprint: OLD,
      found: 'no pending record: lock taken',
    })),
    ensureZoneIdentity: record('ensureZoneIdentity', () => ({
      userCreated: false,
      credential: 'svc-new',
      fingerprint: NEW,
    })),
    smokeZone: record('smokeZone', (zone: string, source: 'current' | 'pending' = 'current') => ({
      zone,
      source,
      passed: 12,
      cells: 12,
      mismatches: [],
    })),
    promoteZonePending: record('promoteZonePending', () => ({
      fingerprint: NEW,
      changed: true,
      writtenAt: new Date().toISOString(),
    })),
    restartWorkloads: record('restartWorkloads', () => ['Deployment/dashi-serving/titiler']),
    waitForRollouts: record('waitForRollouts', () => ['Deployment/dashi-serving/titiler: rolled out']),
    podsHoldingPrevious: async () => holders(++checks),
    revokePrevious: record('revokePrevious', () => 'svc-old'),
    deleteZonePending: record(
      'deleteZonePending',
      () => 'dashi-serving/dashi-rustfs-serving-pending: deleted',
    ),
  });
  return { activities, calls, checks: () => checks };
}

/** The calls of the rotation itself, before the wait. */
export const ROTATION = [
  'inventorySnapshot',
  'assertNoConflictingRun',
  'describeZoneSecret',
  'zoneConsumers',
  'lockZonePending',
  'ensureZoneIdentity',
  'smokeZone',
  'promoteZonePending',
  'restartWorkloads',
  'waitForRollouts',
  'smokeZone',
];
