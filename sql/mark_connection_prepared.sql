SET VARIABLE profiling_prepared = true;
