-- The analysts' copy under construction, as database `pub`, in a storage version the 1.x
-- DuckDB CLIs still open ({path}, {storage_version}: literals, ATTACH takes no parameters).
ATTACH {path} AS pub (STORAGE_VERSION {storage_version});
