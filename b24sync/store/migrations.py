# ruff: noqa: E501 - the frozen DDL is kept exactly as it was run
"""The state database's schema, one frozen step per version.

Each step is the literal SQL that brought the schema from the version before
to its own; a released step is never edited, so a state file written by any
earlier b24sync migrates the same way whatever today's models say.
"""

from __future__ import annotations

from collections.abc import Callable

import peewee

V1 = """
CREATE TABLE "binding" ("id" INTEGER NOT NULL PRIMARY KEY, "deal_id" INTEGER NOT NULL, "onec_ref" VARCHAR(255) NOT NULL, "entity" VARCHAR(255) NOT NULL, "number" VARCHAR(255) NOT NULL, "pushed_hash" VARCHAR(255) NOT NULL, "pushed_projection" TEXT NOT NULL, "posted" INTEGER NOT NULL, "onec_version" VARCHAR(255) NOT NULL, "snapshot_hash" VARCHAR(255) NOT NULL, "written_fields" TEXT NOT NULL, "is_open" INTEGER NOT NULL, "closed_by_b24sync" INTEGER NOT NULL, "created_at" REAL NOT NULL, "updated_at" REAL NOT NULL);
CREATE UNIQUE INDEX "binding_deal_id" ON "binding" ("deal_id");
CREATE UNIQUE INDEX "binding_onec_ref" ON "binding" ("onec_ref");
CREATE TABLE "conflict" ("id" INTEGER NOT NULL PRIMARY KEY, "deal_id" INTEGER NOT NULL, "onec_ref" VARCHAR(255) NOT NULL, "description" TEXT NOT NULL, "created_at" REAL NOT NULL, "resolved_at" REAL);
CREATE INDEX "conflict_deal_id" ON "conflict" ("deal_id");
CREATE TABLE "failure" ("id" INTEGER NOT NULL PRIMARY KEY, "item" VARCHAR(255) NOT NULL, "deal_id" INTEGER, "reason" VARCHAR(255) NOT NULL, "error" TEXT NOT NULL, "attempts" INTEGER NOT NULL, "first_failed_at" REAL NOT NULL, "last_failed_at" REAL NOT NULL, "next_retry_at" REAL NOT NULL, "commented_reason" VARCHAR(255) NOT NULL);
CREATE UNIQUE INDEX "failure_item" ON "failure" ("item");
CREATE INDEX "failure_deal_id" ON "failure" ("deal_id");
CREATE INDEX "failure_next_retry_at" ON "failure" ("next_retry_at");
CREATE TABLE "intent" ("id" INTEGER NOT NULL PRIMARY KEY, "deal_id" INTEGER NOT NULL, "kind" VARCHAR(255) NOT NULL, "pushed_hash" VARCHAR(255) NOT NULL, "started_at" REAL NOT NULL, "closed_at" REAL);
CREATE INDEX "intent_deal_id" ON "intent" ("deal_id");
CREATE TABLE "runlog" ("id" INTEGER NOT NULL PRIMARY KEY, "job" VARCHAR(255) NOT NULL, "started_at" REAL NOT NULL, "finished_at" REAL NOT NULL, "result" VARCHAR(255) NOT NULL, "summary" TEXT NOT NULL);
CREATE TABLE "schemaversion" ("id" INTEGER NOT NULL PRIMARY KEY, "version" INTEGER NOT NULL);
CREATE TABLE "seenversion" ("id" INTEGER NOT NULL PRIMARY KEY, "ref" VARCHAR(255) NOT NULL, "version" VARCHAR(255) NOT NULL);
CREATE UNIQUE INDEX "seenversion_ref" ON "seenversion" ("ref");
CREATE TABLE "unreachable" ("id" INTEGER NOT NULL PRIMARY KEY, "system" VARCHAR(255) NOT NULL, "since" REAL NOT NULL, "error" TEXT NOT NULL);
CREATE UNIQUE INDEX "unreachable_system" ON "unreachable" ("system");
CREATE TABLE "watermark" ("id" INTEGER NOT NULL PRIMARY KEY, "name" VARCHAR(255) NOT NULL, "value" VARCHAR(255) NOT NULL, "updated_at" REAL NOT NULL);
CREATE UNIQUE INDEX "watermark_name" ON "watermark" ("name");
"""

V2 = """
CREATE TABLE "invoiceupload" ("id" INTEGER NOT NULL PRIMARY KEY, "invoice_ref" VARCHAR(255) NOT NULL, "deal_id" INTEGER NOT NULL, "number" VARCHAR(255) NOT NULL, "amount" VARCHAR(255) NOT NULL, "data_version" VARCHAR(255) NOT NULL, "content_hash" VARCHAR(255) NOT NULL, "file_id" INTEGER NOT NULL, "link" VARCHAR(255) NOT NULL, "uploaded_at" REAL NOT NULL);
CREATE UNIQUE INDEX "invoiceupload_invoice_ref" ON "invoiceupload" ("invoice_ref");
CREATE INDEX "invoiceupload_deal_id" ON "invoiceupload" ("deal_id");
"""

# One version per document: the binding keeps the version b24sync wrote (the baseline conflicts are judged
# against) and the version the pull last read; related documents keep theirs in seenversion, the catalog in
# its own table. Failures get their stable code, conflicts how they ended, bindings what was reported and the
# deal's DATE_MODIFY as of b24sync's last look.
V3 = """
ALTER TABLE "binding" RENAME COLUMN "onec_version" TO "written_version";
ALTER TABLE "binding" RENAME COLUMN "snapshot_hash" TO "pulled_version";
ALTER TABLE "binding" ADD COLUMN "document_state" VARCHAR(255) NOT NULL DEFAULT '';
ALTER TABLE "binding" ADD COLUMN "deal_modified" VARCHAR(255) NOT NULL DEFAULT '';
ALTER TABLE "binding" ADD COLUMN "deal_inputs" VARCHAR(255) NOT NULL DEFAULT '';
ALTER TABLE "failure" ADD COLUMN "code" VARCHAR(255) NOT NULL DEFAULT '';
ALTER TABLE "conflict" ADD COLUMN "resolution" VARCHAR(255) NOT NULL DEFAULT '';
CREATE TABLE "catalogversion" ("id" INTEGER NOT NULL PRIMARY KEY, "ref" VARCHAR(255) NOT NULL, "version" VARCHAR(255) NOT NULL);
CREATE UNIQUE INDEX "catalogversion_ref" ON "catalogversion" ("ref");
INSERT INTO "catalogversion" ("ref", "version") SELECT substr("ref", 9), "version" FROM "seenversion" WHERE "ref" LIKE 'catalog:%';
DELETE FROM "seenversion" WHERE "ref" LIKE 'catalog:%' OR "ref" IN (SELECT "onec_ref" FROM "binding");
"""

# A deal deleted in Bitrix24 is reported once and no longer followed.
V4 = """
ALTER TABLE "binding" ADD COLUMN "deal_state" VARCHAR(255) NOT NULL DEFAULT '';
"""

# Commands given while the service runs are queued here and carried out by the service.
V5 = """
CREATE TABLE "request" ("id" INTEGER NOT NULL PRIMARY KEY, "command" VARCHAR(255) NOT NULL, "arguments" TEXT NOT NULL, "created_at" REAL NOT NULL, "started_at" REAL, "finished_at" REAL, "exit_code" INTEGER, "output" TEXT NOT NULL);
"""

# Each Bitrix24 contact and company keeps its 1C counterparty: namesakes are two customers.
V6 = """
CREATE TABLE "counterpartybinding" ("id" INTEGER NOT NULL PRIMARY KEY, "kind" VARCHAR(255) NOT NULL, "bitrix24_id" INTEGER NOT NULL, "onec_ref" VARCHAR(255) NOT NULL, "partner_ref" VARCHAR(255) NOT NULL, "told_bitrix24" INTEGER NOT NULL, "bound_at" REAL NOT NULL);
CREATE UNIQUE INDEX "counterpartybinding_kind_bitrix24_id" ON "counterpartybinding" ("kind", "bitrix24_id");
"""


def _script(sql: str) -> Callable[[peewee.Database], None]:
    def step(db: peewee.Database) -> None:
        for statement in (part.strip() for part in sql.split(";\n")):
            if statement:
                db.execute_sql(statement.rstrip(";"))

    return step


def _v3(db: peewee.Database) -> None:
    # intent.pushed_hash came into the model after schema 1 without a version of its own: files written by those
    # releases lack it, and get it here
    if "pushed_hash" not in {column.name for column in db.get_columns("intent")}:
        db.execute_sql('ALTER TABLE "intent" ADD COLUMN "pushed_hash" VARCHAR(255) NOT NULL DEFAULT \'\'')
    _script(V3)(db)


# version -> the step that brings the schema from version-1 to version
MIGRATIONS: dict[int, Callable[[peewee.Database], None]] = {1: _script(V1), 2: _script(V2), 3: _v3,
                                                         4: _script(V4), 5: _script(V5), 6: _script(V6)}
CURRENT_SCHEMA = max(MIGRATIONS)
