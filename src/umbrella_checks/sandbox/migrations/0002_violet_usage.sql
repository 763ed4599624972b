-- Violet prompts per user per UTC day (the 50/day limit is enforced from this table).
CREATE TABLE violet_usage (
  user_id TEXT NOT NULL REFERENCES users(id),
  day TEXT NOT NULL,
  prompts INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, day)
);
