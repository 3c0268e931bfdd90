-- Last step of dropping ml.recommendations' primary key: its rows into the new table.
INSERT INTO ml.recommendations SELECT * FROM ml.recommendations_keyed;
DROP TABLE ml.recommendations_keyed;
