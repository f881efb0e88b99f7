"""The store files of the release before the one database: each store's own SQLite
file under READLOOM_HOME, with the schema that release created (copied verbatim), so the
upgrade test migrates a home exactly as that release left it."""

from __future__ import annotations

SCHEMAS: dict[str, str] = {
    "llm_usage.sqlite": """
CREATE TABLE IF NOT EXISTS llm_usage (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    month TEXT NOT NULL,
    tenant TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_id TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    cached INTEGER NOT NULL DEFAULT 0,
    student_id TEXT
);
CREATE INDEX IF NOT EXISTS llm_usage_tenant_month ON llm_usage (tenant, month);
""",
    "llm_cache.sqlite": """
CREATE TABLE IF NOT EXISTS llm_cache (
    key TEXT PRIMARY KEY,
    created REAL NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    parsed TEXT,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    finish_reason TEXT
);
""",
    "audit.sqlite": """
CREATE TABLE IF NOT EXISTS audit_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    tenant    TEXT NOT NULL,
    role      TEXT NOT NULL,
    actor     TEXT NOT NULL,          -- pseudonymous student id (stu_...), never the id
    session   TEXT NOT NULL,
    kind      TEXT NOT NULL,          -- redaction | block | alert | alert_ack | ...
    guard     TEXT NOT NULL,
    rule      TEXT,
    entities  TEXT NOT NULL,          -- JSON list of entity types
    severity  TEXT
);
CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE INDEX IF NOT EXISTS audit_events_session ON audit_events (session);

CREATE TABLE IF NOT EXISTS alerts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    tenant        TEXT NOT NULL,
    session       TEXT NOT NULL,
    actor         TEXT NOT NULL,
    severity      TEXT NOT NULL CHECK (severity IN ('low','medium','high','critical')),
    kind          TEXT NOT NULL,          -- self_harm, abuse, repeated_frustration...
    entities      TEXT NOT NULL,
    confidence    REAL NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('open','review','acknowledged')),
    repeats       INTEGER NOT NULL DEFAULT 0,
    acknowledged_by TEXT,
    acknowledged_at TEXT
);
CREATE INDEX IF NOT EXISTS alerts_queue ON alerts (tenant, status, created_at);
CREATE INDEX IF NOT EXISTS alerts_session ON alerts (session);
CREATE TRIGGER IF NOT EXISTS alerts_fixed_facts BEFORE UPDATE ON alerts
WHEN NEW.tenant IS NOT OLD.tenant OR NEW.session IS NOT OLD.session
  OR NEW.actor IS NOT OLD.actor OR NEW.severity IS NOT OLD.severity
  OR NEW.kind IS NOT OLD.kind OR NEW.entities IS NOT OLD.entities
  OR NEW.created_at IS NOT OLD.created_at OR NEW.confidence IS NOT OLD.confidence
BEGIN SELECT RAISE(ABORT, 'an alert''s facts cannot change'); END;

-- sessions erased on request (FERPA): opaque random ids, the register itself is append-only
CREATE TABLE IF NOT EXISTS erasures (
    session   TEXT PRIMARY KEY,
    at        TEXT NOT NULL
);

DROP TRIGGER IF EXISTS audit_events_no_delete;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN NOT EXISTS (SELECT 1 FROM erasures WHERE session = OLD.session)
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
DROP TRIGGER IF EXISTS alerts_no_delete;
CREATE TRIGGER alerts_no_delete BEFORE DELETE ON alerts
WHEN NOT EXISTS (SELECT 1 FROM erasures WHERE session = OLD.session)
BEGIN SELECT RAISE(ABORT, 'alerts are kept'); END;
DROP TRIGGER IF EXISTS erasures_no_update;
CREATE TRIGGER erasures_no_update BEFORE UPDATE ON erasures
BEGIN SELECT RAISE(ABORT, 'the erasure register is append-only'); END;
DROP TRIGGER IF EXISTS erasures_no_delete;
CREATE TRIGGER erasures_no_delete BEFORE DELETE ON erasures
BEGIN SELECT RAISE(ABORT, 'the erasure register is append-only'); END;
""",
    "vault.sqlite": """
CREATE TABLE IF NOT EXISTS pseudonyms (
    session_id  TEXT NOT NULL,
    label       TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    lookup      TEXT NOT NULL,       -- HMAC(session, label, normalised value)
    value       BLOB NOT NULL,       -- Fernet token of the value as first seen
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    PRIMARY KEY (session_id, label, idx)
);
CREATE UNIQUE INDEX IF NOT EXISTS pseudonyms_lookup ON pseudonyms (session_id, lookup);
CREATE TABLE IF NOT EXISTS aliases (      -- a first or last name alone finds the full name
    session_id TEXT NOT NULL,
    lookup     TEXT NOT NULL,
    label      TEXT NOT NULL,
    idx        INTEGER NOT NULL,
    PRIMARY KEY (session_id, lookup)
);
CREATE TABLE IF NOT EXISTS session_owners (  -- who a session belongs to, for forget_student()
    session_id TEXT PRIMARY KEY,
    student    TEXT NOT NULL               -- HMAC of the student id, never the id itself
);
CREATE INDEX IF NOT EXISTS session_owners_student ON session_owners (student);
""",
    "mastery.sqlite": """
CREATE TABLE IF NOT EXISTS mastery (
    student_id TEXT NOT NULL,
    skill TEXT NOT NULL,
    p REAL NOT NULL,
    attempts INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (student_id, skill)
);
CREATE TABLE IF NOT EXISTS responses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student_id TEXT NOT NULL,
    skill TEXT NOT NULL,
    correct INTEGER NOT NULL,
    p_before REAL NOT NULL,
    p_after REAL NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_student ON responses (student_id, id);
""",
    "lti/launches.sqlite": """
CREATE TABLE IF NOT EXISTS lti_states (
  state TEXT PRIMARY KEY, nonce TEXT NOT NULL, issuer TEXT NOT NULL, client_id TEXT NOT NULL,
  created_at REAL NOT NULL, used_at REAL
);
CREATE TABLE IF NOT EXISTS lti_nonces (
  issuer TEXT NOT NULL, nonce TEXT NOT NULL, used_at REAL NOT NULL, PRIMARY KEY (issuer, nonce)
);
CREATE TABLE IF NOT EXISTS page_keys (
  key_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, role TEXT NOT NULL, source TEXT NOT NULL,
  expires_at REAL NOT NULL, revoked_at REAL, launch TEXT
);
CREATE INDEX IF NOT EXISTS page_keys_expiry ON page_keys (revoked_at, expires_at);
""",
}
