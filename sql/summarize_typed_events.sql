SELECT coalesce(reason, 'accepted') AS outcome, count(*) AS n FROM typed GROUP BY ALL;
