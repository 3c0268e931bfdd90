-- The storage version a copy of the previous publish records (select_published_copy_current
-- has checked that it records one).
SELECT storage_version FROM pub.published;
