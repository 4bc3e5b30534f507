"""What every transaction builder of the demo company shares: picking dates and parties, and building lines."""

from __future__ import annotations

import bisect
from datetime import date, datetime, timedelta
from typing import Any

from . import demo_names as names
from .demo_context import Draft, GenContext
from .demo_currency import currency_ref
from .demo_lists import EXPENSE_ACCOUNTS, Lists, ref
from .money import to_money

CREW_FIELD = [{"DefinitionId": "1", "Name": "Crew #", "Type": "StringType"}]
NON_TAXABLE = {"value": "NON"}
# Which class a sales line of an item falls in, when the company tracks classes on the line.
_CLASS_OF_ITEM = {"Service": "Maintenance", "Inventory": "Retail", "NonInventory": "Retail"}
_LANDSCAPING_ITEMS = frozenset({"Design", "Installation", "Services"})


def number(value: float) -> int | float:
    # Quantities and unit prices come back as `4` or `4.5`, never `4.0`.
    return int(value) if float(value).is_integer() else value


def line(number_: int, description: str, cents: int, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    """A detail line as QBO writes it: Id and LineNum first, then the amount and its detail object."""
    return {"Id": str(number_), "LineNum": number_, "Description": description, "Amount": to_money(cents),
            "DetailType": detail_type, detail_type: detail}


class TxnBase:
    """Pickers and line builders over the company's lists; every choice draws from the one seeded RNG."""

    def __init__(self, ctx: GenContext, lists: Lists) -> None:
        self.ctx = ctx
        self.lists = lists
        self.accounts = lists.accounts
        self.customers = sorted(lists.customers, key=lambda d: d.created)
        self._customer_times = [c.created for c in self.customers]
        self.vendors = sorted((v for v in lists.vendors if v.record["Active"]), key=lambda d: d.created)
        self._vendor_times = [v.created for v in self.vendors]
        self.items = [i for i in lists.items if i.record["Active"] and i.record["UnitPrice"]]
        self.products = [i for i in self.items if i.record["Type"] != "Service"]
        self.terms = [t for t in lists.terms if t.record["Active"]]
        self.methods = [m for m in lists.payment_methods if m.record["Active"]]
        self.classes = {c.record["Name"]: c for c in lists.others["Class"] if c.record["Active"]}

    # -- picking --------------------------------------------------------------------------------
    def txn_day(self) -> date:
        # Biased towards recent dates: the business grows, and CDC's 30-day window has content.
        first = self.ctx.local_day(self.ctx.history_start)
        span = (self.ctx.local_day(self.ctx.as_of) - first).days - 1
        return first + timedelta(days=int((self.ctx.rng.random() ** 0.8) * span))

    def customer_at(self, moment: datetime) -> Draft:
        known = max(1, bisect.bisect_right(self._customer_times, moment))
        # Older customers buy more often.
        return self.customers[int(known * (self.ctx.rng.random() ** 1.4))]

    def vendor_at(self, moment: datetime) -> Draft:
        known = max(1, bisect.bisect_right(self._vendor_times, moment))
        return self.vendors[self.ctx.rng.randrange(known)]

    def created_for(self, day: date) -> datetime:
        created = self.ctx.at_business_hours(day)
        if self.ctx.rng.random() < 0.1:
            # Entered a few days after its business date: a backdated transaction.
            created = self.ctx.at_business_hours(day + timedelta(days=self.ctx.rng.randint(1, 10)))
        return created

    def later(self, earliest: datetime, lag_days: int) -> datetime:
        """A business-hours moment about `lag_days` after `earliest`, strictly after it and before as_of."""
        created = self.ctx.at_business_hours(self.ctx.local_day(earliest + timedelta(days=lag_days)))
        if created <= earliest:
            created = self.ctx.after(earliest, at_least=timedelta(minutes=5), within=timedelta(hours=8))
        return created

    @staticmethod
    def currency(customer: Draft | None) -> str | None:
        return customer.extra.get("currency") if customer is not None else None

    def currency_ref(self, customer: Draft | None) -> dict[str, str]:
        return currency_ref(self.currency(customer))

    # -- lines ----------------------------------------------------------------------------------
    def class_for(self, item: Draft) -> Draft | None:
        name = "Landscaping" if item.record["Name"] in _LANDSCAPING_ITEMS else _CLASS_OF_ITEM[item.record["Type"]]
        return self.classes.get(name)

    def sales_lines(self, *, discount_chance: float = 0.0, max_items: int = 4,
                    max_halves: int = 24) -> tuple[list[dict[str, Any]], int]:
        """Item lines, QBO's SubTotalLine (no Id, as recorded) and sometimes a percent discount."""
        rng = self.ctx.rng
        classed = rng.random() < 0.6  # class tracking is per line, and not every user fills it in
        lines, subtotal = [], 0
        for number_, item in enumerate(rng.sample(self.items, rng.randint(1, min(max_items, len(self.items)))), 1):
            price = round(float(item.record["UnitPrice"]) * 100)
            halves = rng.randint(1, max_halves) if item.record["Type"] == "Service" \
                else 2 * rng.randint(1, max(1, max_halves * 5 // 6))
            amount = price * halves // 2
            subtotal += amount
            detail: dict[str, Any] = {"ItemRef": ref(item)}
            klass = self.class_for(item) if classed else None
            if klass is not None:
                detail["ClassRef"] = ref(klass)
            detail.update({"UnitPrice": number(price / 100), "Qty": number(halves / 2),
                           "TaxCodeRef": dict(NON_TAXABLE)})
            lines.append(line(number_, item.record.get("Description", item.record["Name"]), amount,
                              "SalesItemLineDetail", detail))
        count = len(lines)
        lines.append({"Amount": to_money(subtotal), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
        total = subtotal
        if subtotal >= 2000 and rng.random() < discount_chance:
            percent = rng.choice((5, 10, 15))
            discount = round(subtotal * percent / 100)
            total -= discount
            entry = line(count + 1, "Discount", discount, "DiscountLineDetail",
                         {"PercentBased": True, "DiscountPercent": percent,
                          "DiscountAccountRef": ref(self.accounts["Discounts given"])})
            del entry["Description"]
            lines.append(entry)
        return lines, total

    def expense_lines(self, *, item_chance: float = 0.2, max_dollars: int = 2500,
                      max_lines: int = 3) -> tuple[list[dict[str, Any]], int]:
        """Account-based lines, and now and then an inventory purchase as an item-based line."""
        rng = self.ctx.rng
        classed = rng.random() < 0.4
        lines, total = [], 0
        for number_ in range(1, rng.randint(1, max_lines) + 1):
            if self.products and rng.random() < item_chance:
                item = rng.choice(self.products)
                cost = max(1, round(float(item.record["UnitPrice"]) * 100) // 2)
                qty = rng.randint(1, max(1, max_dollars // 60))
                amount = cost * qty
                detail: dict[str, Any] = {"BillableStatus": "NotBillable", "ItemRef": ref(item)}
                if classed and "Retail" in self.classes:
                    detail["ClassRef"] = ref(self.classes["Retail"])
                detail.update({"UnitPrice": number(cost / 100), "Qty": qty, "TaxCodeRef": dict(NON_TAXABLE)})
                entry = line(number_, item.record.get("Description", item.record["Name"]), amount,
                             "ItemBasedExpenseLineDetail", detail)
            else:
                amount = rng.randint(20, max(20, max_dollars)) * 100 + rng.choice((0, 0, 50, 99, rng.randint(1, 99)))
                account = self.accounts[rng.choice(EXPENSE_ACCOUNTS)]
                detail = {}
                if classed and self.classes:
                    detail["ClassRef"] = ref(rng.choice(sorted(self.classes.values(), key=lambda d: d.id)))
                detail.update({"AccountRef": ref(account), "BillableStatus": "NotBillable",
                               "TaxCodeRef": dict(NON_TAXABLE)})
                entry = line(number_, rng.choice(names.EXPENSE_DESCRIPTIONS), amount,
                             "AccountBasedExpenseLineDetail", detail)
            total += amount
            lines.append(entry)
        return lines, total

    def address_fields(self, customer: Draft, record: dict[str, Any], keys: tuple[str, ...]) -> None:
        for key in keys:
            if key in customer.record:
                record[key] = dict(customer.record[key])
