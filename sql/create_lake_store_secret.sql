-- Credentials of the lake's object store (an s3:// data path), from the standard AWS_*
-- variables of the run's environment (literals: CREATE SECRET takes no parameters).
CREATE OR REPLACE SECRET lake_store (
    TYPE s3, KEY_ID {key_id}, SECRET {secret}, REGION {region}
);
