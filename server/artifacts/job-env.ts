import type { TArtifactStore, TS3Location } from './store';

/**
 * The environment that points a job's S3 tools at the artifact store, so that `aws s3 cp/sync`
 * and Python's S3 stack (boto3/botocore, hence s3fs and `datasets`) reach MinIO, R2 or Ceph
 * rather than AWS. AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_S3 are read by the AWS CLI v2 (2.13+)
 * and botocore (1.31+); the global one also by tools that know no service-specific variable
 * (pyarrow, polars). Both regions are set because the CLI reads AWS_REGION and older boto3
 * AWS_DEFAULT_REGION.
 *
 * Addressing style has no environment variable in botocore or the CLI (only the config file's
 * `s3.addressing_style`); botocore already addresses a custom endpoint path-style.
 *
 * Credentials are never part of it: a job authenticates with its own environment or role.
 */
export function s3JobEnv(location: Pick<TS3Location, 'endpoint' | 'region'>): Record<string, string> {
  const env: Record<string, string> = {};
  if (location.endpoint) {
    env.AWS_ENDPOINT_URL = location.endpoint;
    env.AWS_ENDPOINT_URL_S3 = location.endpoint;
  }
  if (location.region) {
    env.AWS_REGION = location.region;
    env.AWS_DEFAULT_REGION = location.region;
  }
  return env;
}

/** The job environment for a store: the S3 settings above, nothing for a local folder. */
export function artifactStoreJobEnv(store: Pick<TArtifactStore, 's3'>): Record<string, string> {
  return store.s3 ? s3JobEnv(store.s3) : {};
}
