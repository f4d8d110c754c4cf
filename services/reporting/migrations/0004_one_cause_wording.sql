-- depends: 0003_event_log_and_read_models
-- The situation counters name an accountability finding's cause in words. Those words now come
-- from services.common.vocabulary (accountability's formal wording): 流程不优 -> 流程未优化,
-- 服务态度差 -> 工作态度问题. Move each case's contribution from the old key to the new one,
-- found from the cases themselves (a free-text classification reason that happens to read
-- 服务态度差 stays where it is), so the counters still equal what a replay rebuilds.

WITH worded AS (
    SELECT month, site, type, finding_cause, count(*) AS n
    FROM reporting.cases
    WHERE finding_cause IN ('process', 'attitude') AND month IS NOT NULL AND type IS NOT NULL
    GROUP BY month, site, type, finding_cause
), moves AS (
    SELECT month, site,
           type || '|' || CASE finding_cause WHEN 'process' THEN '流程不优' ELSE '服务态度差' END
               AS key,
           -n AS value
    FROM worded
    UNION ALL
    SELECT month, site,
           type || '|' || CASE finding_cause WHEN 'process' THEN '流程未优化' ELSE '工作态度问题' END,
           n
    FROM worded
)
INSERT INTO reporting.monthly_counts (month, site, dimension, key, value)
SELECT month, site, 'situation', key, value FROM moves
ON CONFLICT (month, site, dimension, key)
    DO UPDATE SET value = monthly_counts.value + EXCLUDED.value;
