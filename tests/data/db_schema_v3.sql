-- A database file written by schema version 3 (the last release before Alembic): one customer, a
-- hand-off ticket with its outbox item, a logged turn, a queued conversation with its messages.
-- Frozen: never edit it. Every later migration must still open and upgrade it (tests/test_storage.py).
BEGIN TRANSACTION;
CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            before TEXT NOT NULL,
            after TEXT NOT NULL);
CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            customer_id TEXT,
            owner TEXT NOT NULL DEFAULT 'assistant',
            ticket TEXT,
            state TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL);
INSERT INTO "conversations" VALUES('conv-v3','cust-001','queued','HND-000001','{"id": "conv-v3", "customer_id": "cust-001", "turns": [{"role": "customer", "text": "I do not recognise a payment", "language": "en", "topic": null, "outcome": null, "tool": null}, {"role": "assistant", "text": "I have passed this to our fraud team.", "language": "en", "topic": "fraud", "outcome": "escalate", "tool": null}], "pending_action": null}','2026-12-01T18:32:48.933+00:00','2026-12-01T18:32:48.933+00:00');
CREATE TABLE customers (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT NOT NULL UNIQUE,
            language TEXT NOT NULL,
            payment_method TEXT NOT NULL CHECK (payment_method IN ('card', 'bank')),
            created_at TEXT NOT NULL);
INSERT INTO "customers" VALUES('cust-001','Olivia Carter','olivia.carter@example.com','en','card','2025-01-02');
CREATE TABLE desk_access (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            agent TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL);
CREATE TABLE disputes (
            id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL REFERENCES orders(id),
            opened_at TEXT NOT NULL,
            reason TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'decided-for-customer', 'decided-for-shop')));
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
            closed_at TEXT, summary_by TEXT NOT NULL DEFAULT 'extractive', close_reason TEXT, reopened INTEGER NOT NULL DEFAULT 0);
INSERT INTO "handoffs" VALUES(1,'HND-000001','2026-12-01T18:32:48+00:00','conv-v3','cust-001','en','topic','fraud','fraud',1,'I do not recognise a payment','[{"role": "customer", "text": "I do not recognise a payment", "language": "en", "topic": null, "outcome": null}]','open',NULL,NULL,NULL,'extractive',NULL,0);
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
CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            at TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('customer', 'assistant', 'agent', 'system')),
            author TEXT,
            text TEXT NOT NULL);
INSERT INTO "messages" VALUES(1,'conv-v3','2026-12-01T18:32:48.933+00:00','customer',NULL,'I do not recognise a payment');
INSERT INTO "messages" VALUES(2,'conv-v3','2026-12-01T18:32:48.933+00:00','assistant',NULL,'I have passed this to our fraud team.');
INSERT INTO "messages" VALUES(3,'conv-v3','2026-12-01T18:32:48.937+00:00','system',NULL,'A person from our team will reply here. You are number 1 in the queue; the expected wait is about 6 minutes. You can keep writing: everything you send goes to them.');
CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL);
INSERT INTO "meta" VALUES('demo_today','2026-11-20');
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
INSERT INTO "outbox" VALUES(1,'HND-000001','http://127.0.0.1:9/hook','{"event": "handoff.created", "ticket": "HND-000001", "created_at": "2026-12-01T18:32:48+00:00", "conversation_id": "conv-v3", "customer_id": "cust-001", "language": "en", "reason": "topic", "topic": "fraud", "team": "fraud", "priority": 1, "summary": "I do not recognise a payment", "transcript": [{"role": "customer", "text": "I do not recognise a payment", "language": "en", "topic": null, "outcome": null}], "status": "open", "agent": null, "claimed_at": null, "closed_at": null, "summary_by": "extractive", "close_reason": null, "reopened": 0}','pending',0,NULL,'2026-12-01T18:32:48+00:00',NULL);
CREATE TABLE plans (
            id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL UNIQUE REFERENCES orders(id),
            kind TEXT NOT NULL CHECK (kind IN ('pay_in_4', 'pay_in_30', 'financing')),
            months INTEGER,
            apr REAL NOT NULL DEFAULT 0,
            status TEXT NOT NULL CHECK (status IN ('active', 'paid', 'cancelled')),
            extension_days INTEGER,
            extension_fee_cents INTEGER NOT NULL DEFAULT 0);
CREATE TABLE ratings (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            ticket TEXT,
            at TEXT NOT NULL,
            score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
            comment TEXT,
            resolved_by TEXT NOT NULL CHECK (resolved_by IN ('assistant', 'agent')),
            topic TEXT);
CREATE TABLE returns (
            id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL UNIQUE REFERENCES orders(id),
            reported_at TEXT NOT NULL,
            pause_until TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('reported', 'confirmed', 'refunded')),
            refund_cents INTEGER,
            refunded_at TEXT);
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
INSERT INTO "schema_version" VALUES(1,'2026-12-01 18:32:48');
INSERT INTO "schema_version" VALUES(2,'2026-12-01 18:32:48');
INSERT INTO "schema_version" VALUES(3,'2026-12-01 18:32:48');
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
INSERT INTO "turns" VALUES(1,'conv-v3',0,'2026-12-01T18:32:48.931+00:00','cust-001','en','I do not recognise a payment','I have passed this to our fraud team.','escalate','fraud','[]','offline',NULL,'topic',NULL,'fraud','HND-000001',0.9,0,NULL,NULL);
CREATE INDEX orders_customer ON orders(customer_id, ordered_at);
CREATE UNIQUE INDEX disputes_one_open ON disputes(order_id) WHERE status = 'open';
CREATE INDEX audit_entity ON audit(entity, action);
CREATE INDEX handoffs_queue ON handoffs(status, priority, id);
CREATE INDEX outbox_pending ON outbox(status, id);
CREATE INDEX turns_created ON turns(created_at);
CREATE INDEX messages_conversation ON messages(conversation_id, id);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('handoffs',1);
COMMIT;
