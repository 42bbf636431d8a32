import type { Dialect } from './types';

/** What differs between the two admin API flavours; the operations themselves are shared. */
export interface DialectSpec {
  name: Dialect;
  prefix: string;
  /** Request bodies carrying secrets are sealed with the madmin envelope, and so are some replies. */
  encrypted: boolean;
  livePath: string;
  readyPath: string;
  /**
   * Route names to try in order; the next is used only when the server answers NotImplemented
   * (RustFS renamed the plural routes to MinIO's singular names in later releases).
   */
  addServiceAccountRoutes: readonly string[];
  deleteServiceAccountRoutes: readonly string[];
}

export const DIALECTS: Record<Dialect, DialectSpec> = {
  madmin: {
    name: 'madmin',
    prefix: '/minio/admin/v3',
    encrypted: true,
    livePath: '/minio/health/live',
    readyPath: '/minio/health/ready',
    addServiceAccountRoutes: ['add-service-account'],
    deleteServiceAccountRoutes: ['delete-service-account'],
  },
  rustfs: {
    name: 'rustfs',
    prefix: '/rustfs/admin/v3',
    encrypted: false,
    livePath: '/health',
    readyPath: '/health/ready',
    addServiceAccountRoutes: ['add-service-account', 'add-service-accounts'],
    deleteServiceAccountRoutes: ['delete-service-account', 'delete-service-accounts'],
  },
};
