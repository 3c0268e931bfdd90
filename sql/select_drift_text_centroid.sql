-- Mean embedding (by one encoder version) of the texts users produced or touched between
-- $first and $last, each occurrence counted once; texts without an embedding by that version
-- are left out. Returns (occurrences, centroid), the centroid NULL when there are none.
WITH occ AS (
    SELECT e.embedding
    FROM ml.text_occurrences o
    JOIN ml.text_embeddings e ON e.text_hash = o.text_hash AND e.model_version = $version
    WHERE o.event_date BETWEEN $first AND $last
),
flat AS (
    SELECT generate_subscripts(embedding::FLOAT[], 1) AS i, unnest(embedding::FLOAT[]) AS v
    FROM occ
),
per_dim AS (SELECT i, avg(v) AS m FROM flat GROUP BY i)
SELECT (SELECT count(*) FROM occ) AS occurrences,
       (SELECT list(m ORDER BY i) FROM per_dim) AS centroid;
