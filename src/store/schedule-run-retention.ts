/**
 * Schedule-run retention, the same SQL for both dialects ($1 = runs kept per schedule
 * and agent): older runs, and every run of a deleted schedule, go.
 */
export const TRIM_SCHEDULE_RUNS = `
  DELETE FROM schedule_runs WHERE seq IN (
    SELECT seq FROM (
      SELECT seq, ROW_NUMBER() OVER (PARTITION BY schedule_id, agent_id ORDER BY seq DESC) AS n
      FROM schedule_runs
    ) AS ranked WHERE n > $1
  ) OR schedule_id IN (SELECT id FROM schedules WHERE state = 'deleted')`;
