DELETE FROM profiles.user_profiles_history WHERE profile_date = $day;
