-- The users of one forget with their keyed hashes, and the scratch tables the forget fills:
-- rows removed per table and user, and the texts (by text hash) each user authored.
CREATE OR REPLACE TEMP TABLE forget_ids AS
SELECT user_id, sha256($key || ':' || user_id) AS id_hash, regexp_escape(user_id) AS id_pattern
FROM (SELECT DISTINCT unnest($ids::VARCHAR[]) AS user_id);

CREATE OR REPLACE TEMP TABLE forget_counts (
    table_name VARCHAR NOT NULL, user_id VARCHAR NOT NULL, rows_removed BIGINT NOT NULL
);

CREATE OR REPLACE TEMP TABLE forget_texts (user_id VARCHAR NOT NULL, text_hash VARCHAR NOT NULL);
