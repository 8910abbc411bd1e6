"""The tables of the state store (peewee over SQLite), as of the newest schema (see migrations.py).

A binding ties one Bitrix24 deal to one 1C document, unique on both sides;
intents record a write to 1C before it is sent; failures and conflicts are
what `status` shows; seen versions remember the DataVersions of the documents
around an order (invoices, sales, payments) between polls, and catalog
versions those of the nomenclature exported to Bitrix24. Only store.py uses
these classes.
"""

from __future__ import annotations

import peewee

database = peewee.DatabaseProxy()


class Model(peewee.Model):
    class Meta:
        database = database


class SchemaVersion(Model):
    version = peewee.IntegerField()


class Binding(Model):
    deal_id = peewee.IntegerField(unique=True)
    onec_ref = peewee.CharField(unique=True)
    entity = peewee.CharField()  # Document_ЗаказКлиента / Document_СчетНаОплатуПокупателю
    number = peewee.CharField(default="")
    pushed_hash = peewee.CharField(default="")  # hash of the deal projection the document holds (as b24sync knows)
    pushed_projection = peewee.TextField(default="{}")  # what the planner compares of it (Projection.remembered)
    posted = peewee.BooleanField(default=False)
    written_version = peewee.CharField(default="")  # DataVersion after b24sync's last write: the conflict baseline
    pulled_version = peewee.CharField(default="")  # DataVersion the pull last read back; empty: never
    written_fields = peewee.TextField(default="{}")  # JSON: the values b24sync last wrote to the deal
    is_open = peewee.BooleanField(default=True)  # not yet fully paid and shipped
    closed_by_b24sync = peewee.BooleanField(default=False)
    document_state = peewee.CharField(default="")  # "", or "deleted" / "marked" once reported missing in 1C
    deal_state = peewee.CharField(default="")  # "", or "deleted" once the deal was found gone from Bitrix24
    deal_modified = peewee.CharField(default="")  # the deal's DATE_MODIFY as of b24sync's last look
    deal_inputs = peewee.CharField(default="")  # hash of the listed deal fields as of that look
    created_at = peewee.FloatField()
    updated_at = peewee.FloatField()


class Watermark(Model):
    name = peewee.CharField(unique=True)
    value = peewee.CharField()
    updated_at = peewee.FloatField()


class Intent(Model):
    """A write about to be sent to 1C (a create, an update, a posting); closed once the binding records it.

    An intent still open after a restart says the write may have happened: b24sync then looks for the
    document (a create) or adopts the document's current version (an update), instead of guessing.
    """

    deal_id = peewee.IntegerField(index=True)
    kind = peewee.CharField()
    pushed_hash = peewee.CharField(default="")  # the projection being written (a create)
    started_at = peewee.FloatField()
    closed_at = peewee.FloatField(null=True)


class Failure(Model):
    item = peewee.CharField(unique=True)  # deal:123
    deal_id = peewee.IntegerField(null=True, index=True)
    reason = peewee.CharField()  # one line for `status`
    error = peewee.TextField()  # the whole message
    attempts = peewee.IntegerField(default=1)
    first_failed_at = peewee.FloatField()
    last_failed_at = peewee.FloatField()
    next_retry_at = peewee.FloatField(index=True)
    commented_reason = peewee.CharField(default="")  # the reason the deal's timeline was told about
    code = peewee.CharField(default="")  # the stable error code (b24sync.errors)


class Conflict(Model):
    deal_id = peewee.IntegerField(index=True)
    onec_ref = peewee.CharField()
    description = peewee.TextField()
    created_at = peewee.FloatField()
    resolved_at = peewee.FloatField(null=True)
    resolution = peewee.CharField(default="")  # bitrix24 | 1c | updated | agreed


class SeenVersion(Model):
    ref = peewee.CharField(unique=True)
    version = peewee.CharField()


class CatalogVersion(Model):
    ref = peewee.CharField(unique=True)  # Catalog_Номенклатура Ref_Key
    version = peewee.CharField()


class RunLog(Model):
    job = peewee.CharField()
    started_at = peewee.FloatField()
    finished_at = peewee.FloatField()
    result = peewee.CharField()  # ok | failed items | error
    summary = peewee.TextField()


class Unreachable(Model):
    system = peewee.CharField(unique=True)  # bitrix24 | onec
    since = peewee.FloatField()
    error = peewee.TextField()


class InvoiceUpload(Model):
    """An invoice PDF put on a deal: uploaded again only when the invoice changed in 1C."""

    invoice_ref = peewee.CharField(unique=True)
    deal_id = peewee.IntegerField(index=True)
    number = peewee.CharField()
    amount = peewee.CharField(default="")
    data_version = peewee.CharField()
    content_hash = peewee.CharField()
    file_id = peewee.IntegerField()
    link = peewee.CharField()
    uploaded_at = peewee.FloatField()



class Request(Model):
    """A command an administrator gave while the service held the lock: the service carries it out."""

    command = peewee.CharField()  # retry | resync | sync | catalog | conflicts
    arguments = peewee.TextField()  # JSON of the command's options
    created_at = peewee.FloatField()
    started_at = peewee.FloatField(null=True)
    finished_at = peewee.FloatField(null=True)
    exit_code = peewee.IntegerField(null=True)
    output = peewee.TextField(default="")


class CounterpartyBinding(Model):
    """Which 1C counterparty a Bitrix24 contact or company is, so two namesakes are never one customer in 1C.

    A row with an empty `onec_ref` is an intent: b24sync is creating the counterparty for it now; after a crash
    the one it created is found by name among the counterparties no other contact or company is bound to."""

    kind = peewee.CharField()  # contact | company
    bitrix24_id = peewee.IntegerField()
    onec_ref = peewee.CharField(default="")
    partner_ref = peewee.CharField(default="")
    told_bitrix24 = peewee.BooleanField(default=False)  # the GUID is in the contact's or company's own field
    bound_at = peewee.FloatField()

    class Meta:
        indexes = ((("kind", "bitrix24_id"), True),)

