-- The RFM quintile edges of one feature day, per metric.
SELECT metric, edges FROM features.rfm_edges WHERE feature_date = $day;
