-- Users, artists and gigs: the marketplace's core tables.
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  clerk_id TEXT UNIQUE NOT NULL,
  email TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('artist', 'venue', 'admin')),
  created_at TEXT NOT NULL
);

CREATE TABLE artists (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  genre TEXT,
  city TEXT,
  created_at TEXT NOT NULL
);

CREATE TABLE gigs (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  venue_name TEXT NOT NULL,
  date TEXT NOT NULL,
  created_at TEXT NOT NULL
);
