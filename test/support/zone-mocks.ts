// Mocked activities for RotateZone and BootstrapCluster runs in the time-skipping
// environment: each zone rotates cleanly unless the test overrides an activity, and every
// call is recorded as `<activity> <zone>` so a test can see what a run did and did not do.
import { type Activities } from '../../src/activities';
import { inventory } from './dashi';
import { mockActivities } from './workflow-env';

export { DASHI_YAML, inventory, ZONES } from './dashi';

const fp = (zone: string, n: number) =>
  `sha256:${zone.slice(0, 4).padEnd(4, '0')}${String(n).padStart(8, '0')}`;

export function zoneActivities(calls: string[], overrides: Partial<Activities> = {}): Activities {
  const rec = (name: string, zone = '') => calls.push(`${name}${zone ? ` ${zone}` : ''}`);
  const base: Partial<Activities> = {
    inventorySnapshot: async () => (rec('inventorySnapshot'), inventory),
    assertNoConflictingRun: async () => void rec('assertNoConflictingRun'),
    verifyRoot: async () => (
      rec('verifyRoot'),
      {
        kind: 'minio',
        version: 'test',
        dialects: ['madmin'],
        dialect: 'madmin',
        serviceAccountRoutes: 'singular',
        iamSurvivesRootChange: true,
        detectedBy: ['mocked'],
      }
    ),
    ensureBuckets: async () => (rec('ensureBuckets'), inventory.buckets),
    zoneHolder: async (zone) => void rec('zoneHolder', zone),
    holdZone: async (zone) => (rec('holdZone', zone), { found: 'zone held' }),
    releaseZone: async (zone) => (rec('releaseZone', zone), 'released'),
    ensureZoneSecret: async (zone) => (
      rec('ensureZoneSecret', zone),
      { created: false, endpointFixed: false, accessKey: `ak-${zone}-1`, fingerprint: fp(zone, 1) }
    ),
    describeZoneSecret: async (zone) => (
      rec('describeZoneSecret', zone),
      { exists: true, accessKey: `ak-${zone}-1`, fingerprint: fp(zone, 1), endpointMatches: true }
    ),
    zoneConsumers: async (zone) => (rec('zoneConsumers', zone), []),
    ensureWorkPools: async (zone) => (
      rec('ensureWorkPools', zone),
      inventory.zones
        .find((z) => z.name === zone)!
        .workPools.map((p) => ({ ...p, outcome: 'kept' as const, added: [] }))
    ),
    applyNetworkPolicies: async () => (
      rec('applyNetworkPolicies'),
      [{ policy: 'dashi-platform/rotator-store-access', outcome: 'created' as const }]
    ),
    lockZonePending: async (zone) => (
      rec('lockZonePending', zone),
      {
        accessKey: `ak-${zone}-2`,
        fingerprint: fp(zone, 2),
        previousAccessKey: `ak-${zone}-1`,
        previousFingerprint: fp(zone, 1),
        found: 'no pending record: lock taken',
      }
    ),
    ensureZoneIdentity: async (zone) => (
      rec('ensureZoneIdentity', zone),
      { userCreated: false, credential: 'service account created', fingerprint: fp(zone, 2) }
    ),
    smokeZone: async (zone) => (rec('smokeZone', zone), { passed: 4, cells: 4 }) as never,
    promoteZonePending: async (zone) => (
      rec('promoteZonePending', zone),
      { fingerprint: fp(zone, 2), changed: true, writtenAt: new Date().toISOString() }
    ),
    restoreZonePrevious: async (zone) => (
      rec('restoreZonePrevious', zone),
      { fingerprint: fp(zone, 1), changed: true, writtenAt: new Date().toISOString() }
    ),
    discardPendingIdentity: async (zone) => (rec('discardPendingIdentity', zone), 'removed'),
    podsHoldingPrevious: async (zone) => (rec('podsHoldingPrevious', zone), []),
    revokePrevious: async (zone) => (rec('revokePrevious', zone), `service account ak-${zone}-1 deleted`),
    deleteZonePending: async (zone) => (rec('deleteZonePending', zone), 'deleted'),
  };
  return mockActivities({ ...base, ...overrides });
}
