import type { Dialect } from './types';

/** What differs between the two admin API flavours; the operations themselves are shared. */
export interface DialectSpec {
  name: Dialect;
  prefix: string;
  /** Request bodies carrying secrets are sealed with the madmin envelope, and so are some replies. */
  encrypted: boolean;
  /** Health paths in the order tried: the first that answers other than 403/404 decides. */
  livePaths: readonly string[];
  readyPaths: readonly string[];
  /**
   * Route names to try in order when the capabilities are not known; the next is used only when
   * the server answers NotImplemented (RustFS before 1.0.0-alpha.87 has only the plural routes).
   */
  addServiceAccountRoutes: readonly string[];
  deleteServiceAccountRoutes: readonly string[];
  /**
   * The service-account body RustFS's `/rustfs/admin/v3` requires of some releases (read in
   * crates/madmin/src/user.rs AddServiceAccountReq/UpdateServiceAccountReq and iam sys.rs):
   * alpha.85 requires `accessKey`, `secretKey`, `name` and a non-null `expiration` (null →
   * "InvalidExpiration"; absent → "missing field `expiration`"), `newExpiration` on update, and
   * the session policy as a JSON string ("invalid type: map, expected a string"); alpha.87-99
   * default a missing expiration to one hour. beta.7 and rc.3 accept all of that too.
   */
  rustfsServiceAccountBody: boolean;
}

/**
 * RustFS serves `/health` and `/health/ready` on every release; alpha.85 … beta.8 lack
 * `/minio/health/*` (403), beta.9 serves them again (captured on rc.3: 200).
 */
const RUSTFS_LIVE = '/health';
const RUSTFS_READY = '/health/ready';

export const DIALECTS: Record<Dialect, DialectSpec> = {
  madmin: {
    name: 'madmin',
    prefix: '/minio/admin/v3',
    encrypted: true,
    livePaths: ['/minio/health/live', RUSTFS_LIVE],
    readyPaths: ['/minio/health/ready', RUSTFS_READY],
    addServiceAccountRoutes: ['add-service-account'],
    deleteServiceAccountRoutes: ['delete-service-account'],
    rustfsServiceAccountBody: false,
  },
  rustfs: {
    name: 'rustfs',
    prefix: '/rustfs/admin/v3',
    encrypted: false,
    livePaths: [RUSTFS_LIVE],
    readyPaths: [RUSTFS_READY],
    addServiceAccountRoutes: ['add-service-account', 'add-service-accounts'],
    deleteServiceAccountRoutes: ['delete-service-account', 'delete-service-accounts'],
    rustfsServiceAccountBody: true,
  },
};

/** Routes by the capability detected: RustFS before 1.0.0-alpha.87 serves only the plural names. */
export const SERVICE_ACCOUNT_ROUTES = {
  singular: { add: 'add-service-account', delete: 'delete-service-account' },
  plural: { add: 'add-service-accounts', delete: 'delete-service-accounts' },
} as const;
