-- transitions {}
SELECT MAX(value) FROM meta WHERE key = 'journey_steps';
WITH counted AS (SELECT COALESCE(prev_event, '(start)') AS source, event_name AS target, COUNT(*) AS n, COUNT(*) FILTER(WHERE first_of_move) AS people FROM journey_steps GROUP BY COALESCE(prev_event, '(start)'), event_name UNION ALL SELECT event_name AS source, '(end)' AS target, COUNT(*) AS n, COUNT(*) AS people FROM journey_steps WHERE next_event IS NULL GROUP BY event_name) SELECT source, target, n, people, n / SUM(n) OVER (PARTITION BY source) AS probability FROM counted ORDER BY source, n DESC, target;
