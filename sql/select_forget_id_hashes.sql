-- Each staged forgotten id with the keyed hash its suppression row records.
SELECT user_id, id_hash FROM forget_ids;
