"""The daily partitioning shared by every apply asset: one UTC day of events per partition."""

import dagster as dg

from profiling_assets import settings

daily_partitions = dg.DailyPartitionsDefinition(start_date=settings.start_date(), timezone="UTC")

# A backfill of a range is one run per up to a month of days: few runs competing for the
# single warehouse writer, while a failure still costs at most a month of work.
daily_backfill_policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=31)
