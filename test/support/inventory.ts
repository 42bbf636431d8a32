// A valid inventory each malformed case in the inventory tests changes in one place, so a
// failure names exactly the rule under test.
export const VALID_INVENTORY = `
store:
  kind: rustfs
  endpoint: https://rustfs.ns.svc:9000
  rootSecret: { namespace: platform, name: root }
  workload: { kind: StatefulSet, namespace: platform, name: rustfs }
zones:
  - name: ingest
    user: ingest-user
    policy:
      readWrite: [landing]
    secret: { namespace: data, name: ingest-s3 }
  - name: serving
    user: serving-user
    policy:
      readOnly: [landing]
    secret: { namespace: web, name: serving-s3 }
`;
