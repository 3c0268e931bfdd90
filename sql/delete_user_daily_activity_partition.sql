DELETE FROM features.user_daily_activity WHERE activity_date BETWEEN $first_day AND $last_day;
DELETE FROM features.user_daily_category WHERE activity_date BETWEEN $first_day AND $last_day;
DELETE FROM features.user_daily_brand WHERE activity_date BETWEEN $first_day AND $last_day;
