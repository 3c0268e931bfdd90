-- As create_lake_store_secret.sql, for an S3-compatible store at its own endpoint
-- (AWS_ENDPOINT_URL: MinIO, Ceph, R2), addressed by path.
CREATE OR REPLACE SECRET lake_store (
    TYPE s3, KEY_ID {key_id}, SECRET {secret}, REGION {region}, ENDPOINT {endpoint},
    URL_STYLE 'path', USE_SSL {use_ssl}
);
