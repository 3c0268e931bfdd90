-- From the registered frame new_segments.
INSERT INTO ml.segments
SELECT $version, segment_id, segment_name, description, size FROM new_segments;
