/**
 * The object-store admin client: users, canned policies, service accounts, health, over
 * either admin API flavour (docs/design.md "The store's admin API, per release"), plus the S3 data-plane helpers smoke tests use.
 * Every failure is an AdminError whose `code` and `retryable` decide what the caller does.
 */
export type {
  AddServiceAccountRequest,
  AdminApi,
  AdminClient,
  AdminClientOptions,
  Credentials,
  Dialect,
  ServerInfo,
  ServiceAccountInfo,
  ServiceAccountSummary,
  StoreCapabilities,
  UpdateServiceAccountRequest,
  UserInfo,
  UserStatus,
  UserSummary,
} from './types';
export { createAdminClient, parseServerError } from './admin-client';
export { DIALECTS, SERVICE_ACCOUNT_ROUTES, type DialectSpec } from './dialects';
export { settleWithin } from './deadline';
export { failoverAdmin } from './failover';
export * from './errors';
export {
  MadminAlgorithm,
  MadminCryptoError,
  decryptMadmin,
  encryptMadmin,
  isMadminEncrypted,
  type MadminAlgorithmId,
} from './madmin-crypto';
export { DEFAULT_REGION, signRequest } from './sigv4';
export { createS3, mapS3Error, type S3Ops, type S3Options } from './s3';
export { generateCredentials } from './credentials';
export { IAM_RELOAD_WINDOW_MS, compareReleases, iamWritesMayBeUndone } from './iam-reload';
