DELETE FROM features.user_daily_activity WHERE activity_date = $day;
DELETE FROM features.user_daily_category WHERE activity_date = $day;
DELETE FROM features.user_daily_brand WHERE activity_date = $day;
