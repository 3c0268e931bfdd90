-- Last step of dropping a table's primary key: its rows into the keyless table, matched by
-- column name (columns added later by ALTER TABLE sit at the end of both).
INSERT INTO {table} BY NAME SELECT * FROM {keyed_table};
DROP TABLE {keyed_table};
