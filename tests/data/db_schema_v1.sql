-- The tables of schema version 1 (the first release, before Alembic) and its schema_version table.
-- Frozen: never edit it. tests/test_storage.py builds old files from it and upgrades them.
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL);
CREATE TABLE customers (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT NOT NULL UNIQUE,
            language TEXT NOT NULL,
            payment_method TEXT NOT NULL CHECK (payment_method IN ('card', 'bank')),
            created_at TEXT NOT NULL);
CREATE TABLE orders (
            id TEXT PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers(id),
            shop TEXT NOT NULL,
            items TEXT NOT NULL,
            amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
            currency TEXT NOT NULL DEFAULT 'EUR',
            status TEXT NOT NULL CHECK (status IN ('processing', 'shipped', 'delivered', 'cancelled')),
            ordered_at TEXT NOT NULL,
            shipped_at TEXT);
CREATE INDEX orders_customer ON orders(customer_id, ordered_at);
CREATE TABLE plans (
            id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL UNIQUE REFERENCES orders(id),
            kind TEXT NOT NULL CHECK (kind IN ('pay_in_4', 'pay_in_30', 'financing')),
            months INTEGER,
            apr REAL NOT NULL DEFAULT 0,
            status TEXT NOT NULL CHECK (status IN ('active', 'paid', 'cancelled')),
            extension_days INTEGER,
            extension_fee_cents INTEGER NOT NULL DEFAULT 0);
CREATE TABLE instalments (
            id INTEGER PRIMARY KEY,
            plan_id TEXT NOT NULL REFERENCES plans(id),
            seq INTEGER NOT NULL,
            due_date TEXT NOT NULL,
            amount_cents INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('paid', 'due', 'failed', 'paused', 'cancelled')),
            paid_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            paused_until TEXT,
            paused_from TEXT,
            UNIQUE (plan_id, seq));
CREATE TABLE returns (
            id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL UNIQUE REFERENCES orders(id),
            reported_at TEXT NOT NULL,
            pause_until TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('reported', 'confirmed', 'refunded')),
            refund_cents INTEGER,
            refunded_at TEXT);
CREATE TABLE disputes (
            id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL REFERENCES orders(id),
            opened_at TEXT NOT NULL,
            reason TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'decided-for-customer', 'decided-for-shop')));
CREATE UNIQUE INDEX disputes_one_open ON disputes(order_id) WHERE status = 'open';
CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            before TEXT NOT NULL,
            after TEXT NOT NULL);
CREATE INDEX audit_entity ON audit(entity, action);
CREATE TABLE handoffs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ticket TEXT UNIQUE,
            created_at TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            customer_id TEXT,
            language TEXT NOT NULL,
            reason TEXT NOT NULL,
            topic TEXT,
            team TEXT NOT NULL,
            priority INTEGER NOT NULL,
            summary TEXT NOT NULL,
            transcript TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'claimed', 'closed')),
            agent TEXT,
            claimed_at TEXT,
            closed_at TEXT);
CREATE INDEX handoffs_queue ON handoffs(status, priority, id);
CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            ticket TEXT NOT NULL,
            url TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'rejected')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created_at TEXT NOT NULL,
            delivered_at TEXT);
CREATE INDEX outbox_pending ON outbox(status, id);
CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            turn_index INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            customer_id TEXT,
            language TEXT NOT NULL,
            message TEXT NOT NULL,
            reply TEXT NOT NULL,
            outcome TEXT NOT NULL,
            topic TEXT,
            sources TEXT NOT NULL DEFAULT '[]',
            model_path TEXT NOT NULL,
            latency_ms REAL,
            reason TEXT NOT NULL DEFAULT '',
            tool TEXT,
            team TEXT,
            ticket TEXT,
            confidence REAL,
            fell_back INTEGER NOT NULL DEFAULT 0,
            feedback INTEGER CHECK (feedback IN (1, -1)),
            feedback_comment TEXT,
            UNIQUE (conversation_id, turn_index));
CREATE INDEX turns_created ON turns(created_at);
