-- A cursor of the process's lake connection starts in the in-memory catalog.
USE lake;
