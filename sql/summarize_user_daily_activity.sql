SELECT activity_date::VARCHAR, count(*), sum(events), sum(purchases), round(sum(revenue), 2)
FROM features.user_daily_activity
WHERE activity_date BETWEEN $first_day AND $last_day
GROUP BY 1
ORDER BY 1;
