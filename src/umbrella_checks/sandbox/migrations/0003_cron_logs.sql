-- Scheduled job runs; the daily analytics cron logs here.
CREATE TABLE cron_logs (
  id TEXT PRIMARY KEY,
  job_name TEXT NOT NULL,
  start_time TEXT NOT NULL,
  end_time TEXT,
  duration_ms INTEGER,
  records_processed INTEGER DEFAULT 0,
  errors_count INTEGER DEFAULT 0,
  status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
  error_message TEXT,
  metadata TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX idx_cron_logs_job_start ON cron_logs (job_name, start_time);
