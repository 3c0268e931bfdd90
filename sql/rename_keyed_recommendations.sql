-- First step of dropping ml.recommendations' primary key: the keyed table steps aside, so that
-- create_factor_tables.sql creates the table without the key.
ALTER TABLE ml.recommendations RENAME TO recommendations_keyed;
