"""Sales tax setup of the demo company: the rates of its tax agency and the codes that group them.

Shapes follow Intuit's TaxCode/TaxRate reference samples: the pseudo codes TAX and NON (which every
generated line references) have non-numeric Ids and no SyncToken or Active; tax groups list their rates.
No generated transaction charges tax (every line is NON and TotalTax 0, as in the recorded sandbox).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .demo_context import Draft, GenContext, assign_ids

# (name, percent, active); the agency (TaxAgency 1) is not served by the simulator.
TAX_RATES = (("California", 7.25, True), ("Contra Costa County", 1.0, True), ("San Pablo City", 0.5, True),
             ("Nevada", 4.6, False))
# (name, rates, active)
TAX_GROUPS = (("San Pablo", ("California", "Contra Costa County", "San Pablo City"), True),
              ("Contra Costa", ("California", "Contra Costa County"), True),
              ("California", ("California",), True), ("Nevada", ("Nevada",), False))


def _moment(ctx: GenContext, setup: datetime, step: int) -> datetime:
    return setup + timedelta(seconds=37 * (600 + step) + ctx.rng.randint(0, 30))


def _retire(ctx: GenContext, draft: Draft) -> None:
    # A tax code or rate is never deleted in QBO, only made inactive; its name gets the usual suffix.
    draft.edit(ctx.after(draft.created, within=ctx.as_of - draft.created))
    draft.record["Active"] = False
    draft.record["Name"] = f"{draft.record['Name']} (deleted)"


def build_tax_rates(ctx: GenContext, setup: datetime) -> list[Draft]:
    drafts = []
    for step, (name, percent, active) in enumerate(TAX_RATES):
        record: dict[str, Any] = {"RateValue": percent, "AgencyRef": {"value": "1"}, "domain": "QBO", "Name": name,
                                  "SyncToken": "0", "SpecialTaxType": "NONE", "DisplayType": "ReadOnly",
                                  "sparse": False, "Active": True, "MetaData": {}, "Id": None,
                                  "Description": "Sales Tax"}
        created = _moment(ctx, setup, step)
        draft = Draft("TaxRate", record, created, created)
        if not active:
            _retire(ctx, draft)
        drafts.append(draft)
    assign_ids(drafts)
    return drafts


def build_tax_codes(ctx: GenContext, setup: datetime, rates: list[Draft]) -> list[Draft]:
    by_name = {r.record["Name"].removesuffix(" (deleted)"): r for r in rates}
    groups = []
    for step, (name, members, active) in enumerate(TAX_GROUPS, 10):
        details = [{"TaxTypeApplicable": "TaxOnAmount",
                    "TaxRateRef": {"name": str(by_name[m].record["Name"]), "value": by_name[m].id}, "TaxOrder": 0}
                   for m in members]
        record: dict[str, Any] = {"SyncToken": "0", "domain": "QBO", "TaxGroup": True, "Name": name,
                                  "Taxable": True, "PurchaseTaxRateList": {"TaxRateDetail": []}, "sparse": False,
                                  "Active": True, "Description": name, "MetaData": {}, "Id": None,
                                  "SalesTaxRateList": {"TaxRateDetail": details}}
        created = _moment(ctx, setup, step)
        draft = Draft("TaxCode", record, created, created)
        if not active:
            _retire(ctx, draft)
        groups.append(draft)
    assign_ids(groups)
    pseudo = []
    for step, (code, taxable) in enumerate((("TAX", True), ("NON", False)), 20):
        created = _moment(ctx, setup, step)
        record = {"TaxGroup": False, "Name": code, "Taxable": taxable, "Description": code, "Id": code,
                  "MetaData": {}}
        pseudo.append(Draft("TaxCode", record, created, created))
    return pseudo + groups
