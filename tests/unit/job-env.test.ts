import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { artifactStoreJobEnv, s3JobEnv } from '@/server/artifacts/job-env';
import { s3ArtifactStore } from '@/server/artifacts/s3-store';
import { localArtifactStore } from '@/server/artifacts/store';

describe('the artifact store’s settings for jobs', () => {
  it('point the AWS CLI and boto3 at an S3-compatible endpoint, in the store’s region', () => {
    expect(s3JobEnv({ endpoint: 'http://minio:9000', region: 'eu-central-1' })).toEqual({
      AWS_ENDPOINT_URL: 'http://minio:9000',
      AWS_ENDPOINT_URL_S3: 'http://minio:9000',
      AWS_REGION: 'eu-central-1',
      AWS_DEFAULT_REGION: 'eu-central-1',
    });
    // AWS itself: no endpoint; the region only when one is configured.
    expect(s3JobEnv({ region: 'us-west-2' })).toEqual({ AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: 'us-west-2' });
    expect(s3JobEnv({})).toEqual({});
  });

  it('come from the store as its client is configured, with the region it signs for, and never hold credentials', () => {
    const minio = s3ArtifactStore({ bucket: 'pairwise', endpoint: 'https://r2.example.com', prefix: 'p/' });
    expect(artifactStoreJobEnv(minio)).toEqual({
      AWS_ENDPOINT_URL: 'https://r2.example.com',
      AWS_ENDPOINT_URL_S3: 'https://r2.example.com',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
    });
    expect(Object.keys(artifactStoreJobEnv(minio)).some((name) => /KEY|SECRET|TOKEN/.test(name))).toBe(false);
    expect(artifactStoreJobEnv(s3ArtifactStore({ bucket: 'pairwise' }))).toEqual({});
    expect(artifactStoreJobEnv(localArtifactStore(os.tmpdir()))).toEqual({});
  });
});
