-- Lines per file and outcome ('accepted' or the reason) of the day's gathered lines,
-- counted once after every file has been read.
SELECT source_file, coalesce(reason, 'accepted') AS outcome, count(*) AS n
FROM day_typed
GROUP BY ALL;
