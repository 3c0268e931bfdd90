-- Detaching checkpoints the copy: the file is complete once this returns.
DETACH pub;
