-- Texts a forgotten user wrote, hashed in Python exactly as the text assets hash them.
INSERT INTO forget_texts
SELECT unnest($user_ids::VARCHAR[]), unnest($text_hashes::VARCHAR[]);
