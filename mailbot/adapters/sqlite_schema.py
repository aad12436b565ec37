"""The ledger's tables and their migrations, by the schema version they lead to."""

from __future__ import annotations

SCHEMA_VERSION = 7

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE submissions (
    id INTEGER PRIMARY KEY,
    receipt TEXT NOT NULL UNIQUE,
    sender TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    mailbox_key TEXT NOT NULL UNIQUE,
    message_id TEXT,
    sha256 TEXT NOT NULL,
    sender TEXT,
    subject TEXT NOT NULL,
    received_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT,
    submission_id INTEGER REFERENCES submissions(id),
    version INTEGER,
    done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_by_message_id ON messages(message_id);
CREATE INDEX messages_by_sha256 ON messages(sha256);
CREATE TABLE versions (
    id INTEGER PRIMARY KEY,
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    version INTEGER NOT NULL,
    message_row INTEGER NOT NULL REFERENCES messages(id),
    received_at TEXT NOT NULL,
    status TEXT NOT NULL,
    organization TEXT,
    tasks TEXT NOT NULL,
    findings TEXT NOT NULL,
    files TEXT NOT NULL,
    UNIQUE (submission_id, version)
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    message_row INTEGER NOT NULL REFERENCES messages(id),
    submission_id INTEGER REFERENCES submissions(id),
    reply_id TEXT NOT NULL UNIQUE,
    recipient TEXT NOT NULL,
    raw BLOB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'uncertain')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX outbox_by_recipient ON outbox(recipient, created_at);
"""

#: Schema changes, by the version they lead to; a ledger is brought up to date at start-up.
MIGRATIONS: dict[int, list[str]] = {
    2: ["ALTER TABLE outbox ADD COLUMN next_attempt_at TEXT"],  # backoff after a temporary SMTP failure
    3: [  # failed messages, reprocessing, alerts (outbox rows of their own, without a message), run state
        "ALTER TABLE messages ADD COLUMN error_id TEXT",
        "ALTER TABLE messages ADD COLUMN reprocessed_at TEXT",
        "ALTER TABLE messages ADD COLUMN previous_action TEXT",
        """CREATE TABLE outbox_v3 (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL DEFAULT 'reply' CHECK (kind IN ('reply', 'alert')),
            message_row INTEGER REFERENCES messages(id),
            submission_id INTEGER REFERENCES submissions(id),
            reply_id TEXT NOT NULL UNIQUE,
            recipient TEXT NOT NULL,
            raw BLOB NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'uncertain')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            next_attempt_at TEXT,
            failed_at TEXT
        )""",
        "INSERT INTO outbox_v3 (id, message_row, submission_id, reply_id, recipient, raw, state, attempts,"
        " last_error, created_at, sent_at, next_attempt_at) SELECT id, message_row, submission_id, reply_id,"
        " recipient, raw, state, attempts, last_error, created_at, sent_at, next_attempt_at FROM outbox",
        "DROP TABLE outbox",
        "ALTER TABLE outbox_v3 RENAME TO outbox",
        "CREATE INDEX outbox_by_recipient ON outbox(recipient, created_at)",
        "CREATE INDEX outbox_by_state ON outbox(state)",
        "CREATE INDEX messages_by_action ON messages(action)",
        """CREATE TABLE alerts (
            condition TEXT PRIMARY KEY,
            state TEXT NOT NULL CHECK (state IN ('active', 'open', 'resolved')),
            detail TEXT NOT NULL DEFAULT '',
            since TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            mailed_at TEXT,
            mails INTEGER NOT NULL DEFAULT 0
        )""",
    ],
    4: [  # S/MIME: the signature of the version's message (JSON) and its PDFs signed in themselves (JSON list)
        "ALTER TABLE versions ADD COLUMN signature TEXT",
        "ALTER TABLE versions ADD COLUMN signed_copies TEXT",
    ],
    5: [  # the officer's side: the submitter's own words per version, mail of mailbot's own kinds, jobs done once
        "ALTER TABLE versions ADD COLUMN note TEXT",  # the submitter's text, quoted replies and signature cut
        "ALTER TABLE versions ADD COLUMN note_asks INTEGER NOT NULL DEFAULT 0",  # 1: the text asks for something
        # lateness and correctness are two facts: `late` beside a status that is accepted or needs_correction
        "ALTER TABLE versions ADD COLUMN late INTEGER NOT NULL DEFAULT 0",
        "UPDATE versions SET late = 1, status = CASE WHEN EXISTS (SELECT 1 FROM json_each(versions.findings)"
        " WHERE json_extract(value, '$.severity') = 'error') THEN 'needs_correction' ELSE 'accepted' END"
        " WHERE status = 'late'",
        """CREATE TABLE outbox_v5 (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL DEFAULT 'reply'
                CHECK (kind IN ('reply', 'alert', 'reminder', 'digest', 'forward')),
            message_row INTEGER REFERENCES messages(id),
            submission_id INTEGER REFERENCES submissions(id),
            reply_id TEXT NOT NULL UNIQUE,
            recipient TEXT NOT NULL,
            raw BLOB NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'uncertain')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            next_attempt_at TEXT,
            failed_at TEXT
        )""",
        "INSERT INTO outbox_v5 SELECT id, kind, message_row, submission_id, reply_id, recipient, raw, state,"
        " attempts, last_error, created_at, sent_at, next_attempt_at, failed_at FROM outbox",
        "DROP TABLE outbox",
        "ALTER TABLE outbox_v5 RENAME TO outbox",
        "CREATE INDEX outbox_by_recipient ON outbox(recipient, created_at)",
        "CREATE INDEX outbox_by_state ON outbox(state)",
        """CREATE TABLE jobs (
            key TEXT PRIMARY KEY,  -- e.g. 'reminder:before-7:<unit>' or 'digest:2023-04-20': done exactly once
            done_at TEXT NOT NULL,
            outbox_id INTEGER REFERENCES outbox(id),
            detail TEXT
        )""",
    ],
    6: [  # Exchange gives a moved item a new id: the id in the Processed/Quarantine folder, beside the intake key
        "ALTER TABLE messages ADD COLUMN moved_key TEXT",
    ],
    7: [  # the rate limits count recent replies by time, and by recipient whatever its case, without a scan
        "CREATE INDEX outbox_by_time ON outbox(created_at)",
        "CREATE INDEX outbox_by_recipient_folded ON outbox(lower(recipient), created_at)",
        "DROP INDEX IF EXISTS outbox_by_recipient",  # recipient as written: no query looks by it
        "CREATE INDEX IF NOT EXISTS outbox_by_message ON outbox(message_row, kind)",  # a message's reply
    ],
}
