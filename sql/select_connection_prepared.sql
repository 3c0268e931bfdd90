-- Whether prepare_connection already ran on this connection (NULL when never).
SELECT getvariable('profiling_prepared');
