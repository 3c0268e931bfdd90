-- First step of dropping a table's primary key: the keyed table steps aside ({keyed}: its
-- new name, in the same schema), so that its schema file creates the table without the key.
ALTER TABLE {table} RENAME TO {keyed};
