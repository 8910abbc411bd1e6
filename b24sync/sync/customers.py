"""Who the customer is in 1C: each deal's contact or company matched to its counterparty (and partner, and in
БП its contract), made only when none matches, and the GUID told back to Bitrix24.

A mixin of the Engine (runner.py). A contact or company keeps the counterparty it was bound to; an unbound one is
matched by the GUID in its own field, then by INN (KPP), then (a person) by phone or e-mail, and only then
created, never by name, since two people may share one. The chunk's new customers are looked up at once.
"""

from __future__ import annotations

import json
from typing import Any

from b24sync.onec import errors as onec_errors
from b24sync.onec.lookups import pick_by_kpp
from b24sync.sync import mapping
from b24sync.sync import plan as steps
from b24sync.sync.gather import Mapped
from b24sync.sync.turns import Turns

CUSTOMERS = "customers"  # the key under which customers are matched and created (turns.py)


class CustomerMatching:
    """The customers of a push (the attributes it uses are the Engine's)."""

    sync: Any
    bitrix: Any
    onec: Any
    store: Any
    gatherer: Any
    log: Any
    turns: Turns
    _customer_fields: dict[str, bool]

    def _contact_person(self, partner: str | None, name: str) -> str | None:
        """The partner's contact person for the deal's contact (УТ), found or created once per cycle; one worker at
        a time, so two deals of one contact never make two."""
        if not partner or not name:
            return None
        people = self.gatherer.context.contact_persons.setdefault(partner.lower(), {})
        key = " ".join(name.split()).casefold()
        if key not in people:
            with self.turns.exclusive(CUSTOMERS):
                if key not in people:
                    people[key] = self.onec.contact_person(partner, name, people)
        return people[key]

    def _contract(self, counterparty: str, choices: Any, currency: str) -> str | None:
        """БП: the counterparty's contract for the deal's pipeline (its name and organisation) and currency, once
        per cycle."""
        cache = self.gatherer.context.counterparties
        key = (f"contract:{counterparty}:{getattr(choices, 'contract_name', '')}:{getattr(choices, 'organisation', '')}"
               f":{currency}")
        if key not in cache:
            with self.turns.exclusive(CUSTOMERS):  # two deals of one customer at once: one contract made
                if key not in cache:
                    cache[key] = self.onec.contract(counterparty, choices=choices, currency=currency)
        return cache[key]

    def _counterparty(self, customer: mapping.Customer, deal_id: int) -> tuple[str, str | None]:
        """(counterparty, partner) of the deal's customer, once per cycle. A contact or company keeps
        the counterparty it was bound to; an unbound one is matched by the GUID in its own field, then by INN
        (KPP), then (a person) by phone or e-mail, and only then created — never by name, since two people may
        share one."""
        cache = self.gatherer.context.counterparties
        key = f"{customer.kind}:{customer.bitrix24_id}"
        if key in cache:
            return cache[key]
        # one worker at a time matches or creates customers: two deals of one customer, or two companies with one
        # INN, never make two counterparties
        with self.turns.exclusive(CUSTOMERS):
            if key not in cache:
                cache[key] = self._resolve_counterparty(customer, deal_id)
        return cache[key]

    def _resolve_counterparty(self, customer: mapping.Customer, deal_id: int) -> tuple[str, str | None]:
        kind = "company" if customer.kind == "company" else "contact"
        bound = self.store.counterparty_binding(kind, customer.bitrix24_id)
        typed = self._typed_counterparty(kind, customer.bitrix24_id)
        if bound and bound[0] and typed and typed.lower() != bound[0].lower():
            # a person put another counterparty's GUID into the field: a correction of b24sync's match
            found = self.onec.counterparty(typed)
            if found is not None:
                self.log.warning("counterparty_rebound", deal_id=deal_id, **{kind: customer.bitrix24_id},
                                 previous=bound[0], now=found["Ref_Key"],
                                 action="the GUID in the contact's or company's field is followed from now on")
                self.store.bind_counterparty(kind, customer.bitrix24_id, found["Ref_Key"],
                                             found.get("Партнер_Key") or "")
                bound = (found["Ref_Key"], found.get("Партнер_Key") or "")
        if bound and bound[0]:
            ref, partner = bound[0], bound[1] or None
        else:
            found = self._match_counterparty(customer, kind, deal_id, pending=bound is not None)
            ref, partner = found["Ref_Key"], found.get("Партнер_Key") or None
            self.store.bind_counterparty(kind, customer.bitrix24_id, ref, partner or "")
        return ref, partner

    def _prefetch_customers(self, gathered: list[tuple[steps.PushItem, Mapped, dict]]) -> None:
        """The chunk's customers not bound to a counterparty yet, looked for in 1C by INN, phone and e-mail in
        `or` chains: a few requests for the chunk instead of a few for each customer."""
        context = self.gatherer.context
        # read afresh for each chunk: a counterparty the accountant made or marked meanwhile is seen as it is now
        context.by_inn.clear()
        context.by_phone.clear()
        context.by_email.clear()
        inns: set[str] = set()
        phones: set[str] = set()
        emails: set[str] = set()
        for _, mapped, _ in gathered:
            customer = mapped.projection.customer if mapped.projection is not None else None
            if customer is None or f"{customer.kind}:{customer.bitrix24_id}" in context.counterparties:
                continue
            kind = "company" if customer.kind == "company" else "contact"
            bound = self.store.counterparty_binding(kind, customer.bitrix24_id)
            if bound and bound[0]:
                continue
            if customer.inn:
                inns.add(customer.inn)
            if customer.kind == "person":
                entity = context.contacts.get(customer.bitrix24_id)
                found_phones, found_emails = mapping.contact_details(entity)
                phones.update(digits for _, digits in found_phones)
                emails.update(found_emails)
        try:
            if inns:
                context.by_inn.update(self.onec.counterparties_by_inns(inns))
            if phones or emails:
                by_phone, by_email = self.onec.counterparties_by_contacts(phones, emails)
                context.by_phone.update(by_phone)
                context.by_email.update(by_email)
        except onec_errors.HiddenRowsError:
            pass  # some rows are hidden from b24sync's user: each customer is looked for alone, and fails alone

    def _remember_counterparty(self, row: dict[str, Any], inn: str | None, phones: list[str],
                               emails: list[str]) -> None:
        """A counterparty made in this cycle is found by the next customer with its INN, phone or e-mail."""
        context = self.gatherer.context
        for index, key in [(context.by_inn, inn), *((context.by_phone, phone) for phone in phones),
                           *((context.by_email, email) for email in emails)]:
            if key and key in index:
                index[key].append(row)

    def _typed_counterparty(self, kind: str, bitrix24_id: int) -> str:
        """The GUID in the contact's or company's own counterparty field, as the portal has it now."""
        context = self.gatherer.context
        entity = (context.companies if kind == "company" else context.contacts).get(bitrix24_id)
        return (entity.user_fields if entity is not None else {}).get(self.sync.fields.counterparty_id, "").strip()

    def _match_counterparty(self, customer: mapping.Customer, kind: str, deal_id: int,
                            pending: bool) -> dict[str, Any]:
        context = self.gatherer.context
        entity = (context.companies if kind == "company" else context.contacts).get(customer.bitrix24_id)
        given = self._typed_counterparty(kind, customer.bitrix24_id)
        found = self.onec.counterparty(given) if given else None
        if given and found is None:
            self.log.warning("counterparty_field_unknown", deal_id=deal_id, **{kind: customer.bitrix24_id},
                             field=self.sync.fields.counterparty_id, value=given,
                             action="no live counterparty in 1C has this GUID; b24sync matches by INN, phone or "
                                    "e-mail instead")
        if found is None:
            found = self._document_counterparty(customer, deal_id)
        if found is None and customer.inn:
            known = context.by_inn.get(customer.inn)
            found = pick_by_kpp(known, customer.kpp) if known is not None else \
                self.onec.counterparty_by_inn(customer.inn, customer.kpp)
        phones, emails = mapping.contact_details(entity)
        if found is None and customer.kind == "person" and (phones or emails):
            found = self._one_by_contact(customer, kind, [digits for _, digits in phones], emails)
        if found is None and pending:  # a crash while creating it: the one made then, bound to nobody else
            taken = self.store.counterparty_refs_bound()
            made = [row for row in self.onec.counterparties_by_name(customer.name) if row["Ref_Key"] not in taken]
            found = made[-1] if made else None
        if found is not None:
            return found
        self.store.begin_counterparty(kind, customer.bitrix24_id)
        try:
            made = self.onec.create_counterparty(customer.name, customer.full_name, inn=customer.inn,
                                                 kpp=customer.kpp, individual=customer.kind == "person",
                                                 phones=phones, emails=emails, address=_address_of(entity))
            self._remember_counterparty(made, customer.inn, [digits for _, digits in phones], emails)
            return made
        except onec_errors.SetupError as error:
            who = f"ИНН {customer.inn}" if customer.inn else f"«{customer.name}»"
            raise mapping.MappingError(f"В 1С нет контрагента с {who}, а создавать их b24sync не разрешено: "
                                       f"заведите контрагента в 1С.", str(error),
                                       code="counterparty_missing") from None

    def _one_by_contact(self, customer: mapping.Customer, kind: str, phones: list[str],
                        emails: list[str]) -> dict[str, Any] | None:
        """The counterparty with the person's phone or e-mail; among several, the one with the same name."""
        context = self.gatherer.context
        if all(phone in context.by_phone for phone in phones) and all(email in context.by_email for email in emails):
            candidates = []
            for row in [row for phone in phones for row in context.by_phone[phone]] + \
                    [row for email in emails for row in context.by_email[email]]:
                if all(known["Ref_Key"] != row["Ref_Key"] for known in candidates):
                    candidates.append(row)
            candidates = sorted(candidates, key=lambda row: str(row.get("Code", "")))[:10]
        else:
            candidates = self.onec.counterparties_by_contact(phones, emails)
        if len(candidates) > 1:
            candidates = [row for row in candidates if row.get("Description") == customer.name[:150]] or candidates
        if len(candidates) > 1:
            names = ", ".join(f"«{row.get('Description', '')}»" for row in candidates[:3])
            raise mapping.MappingError(
                f"В 1С несколько контрагентов с телефоном или e-mail контакта «{customer.name}» ({names}): укажите "
                f"нужного в поле контакта «Контрагент в 1С (GUID)» ({self.sync.fields.counterparty_id}).",
                f"{kind} {customer.bitrix24_id}: {', '.join(row['Ref_Key'] for row in candidates)}",
                code="counterparty_ambiguous")
        return candidates[0] if candidates else None

    def _document_counterparty(self, customer: mapping.Customer, deal_id: int) -> dict[str, Any] | None:
        """The counterparty of the deal's bound document, when the document was made for this same customer
        (a binding from before b24sync kept counterparties): the one the accountant already works with."""
        binding = self.store.binding_for_deal(deal_id)
        if binding is None or not binding.pushed_projection:
            return None
        pushed = json.loads(binding.pushed_projection).get("customer") or {}
        if (pushed.get("kind"), pushed.get("bitrix24_id")) != (customer.kind, customer.bitrix24_id):
            return None
        ref = self.onec.document_counterparty(binding.onec_ref)
        return self.onec.counterparty(ref) if ref else None

    def _tell_counterparties(self) -> None:
        """Each new binding's GUID into its contact's or company's own field (the state file stays the first
        authority; the field survives its loss and lets a person correct a match)."""
        pending = self.store.counterparties_to_tell()
        name = self.sync.fields.counterparty_id
        for entity in ("contact", "company"):
            mine = {bitrix24_id: ref for kind, bitrix24_id, ref in pending if kind == entity}
            if not mine:
                continue
            if entity not in self._customer_fields:
                self._customer_fields[entity] = name in self.bitrix.userfields(entity)
            if not self._customer_fields[entity]:
                self.log.warning("counterparty_field_missing", entity=entity, field=name,
                                 action="run `b24sync setup` to create it; the bindings are kept in the state file")
                continue
            failed = self.bitrix.update_entities(entity, {entity_id: {name: ref} for entity_id, ref in mine.items()})
            for bitrix24_id, ref in mine.items():
                if bitrix24_id not in failed:
                    self.store.counterparty_told(entity, bitrix24_id, ref)
            for bitrix24_id, error in failed.items():
                self.log.warning("counterparty_field_not_written", **{entity: bitrix24_id}, error=str(error),
                                 action="it is written again at the next cycle")


def _address_of(entity: Any) -> str:
    """The legal address a new counterparty gets: a company's registered one, a person's own."""
    return getattr(entity, "legal_address", "") or getattr(entity, "address", "")
