"""Name-list entities of the demo company: accounts, items, terms, people and the company itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import demo_names as names
from .demo_context import USD, Draft, GenContext, base_fields
from .money import to_money

# (name, AccountType, AccountSubType, Classification)
ACCOUNTS = (
    ("Checking", "Bank", "Checking", "Asset"),
    ("Savings", "Bank", "Savings", "Asset"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds", "Asset"),
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable", "Asset"),
    ("Inventory Asset", "Other Current Asset", "Inventory", "Asset"),
    ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable", "Liability"),
    ("Visa", "Credit Card", "CreditCard", "Liability"),
    ("Services", "Income", "ServiceFeeIncome", "Revenue"),
    ("Sales of Product Income", "Income", "SalesOfProductIncome", "Revenue"),
    ("Design income", "Income", "ServiceFeeIncome", "Revenue"),
    ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs", "Expense"),
    ("Advertising", "Expense", "AdvertisingPromotional", "Expense"),
    ("Rent or Lease", "Expense", "RentOrLeaseOfBuildings", "Expense"),
    ("Utilities", "Expense", "Utilities", "Expense"),
    ("Office Expenses", "Expense", "OfficeGeneralAdministrativeExpenses", "Expense"),
    ("Insurance", "Expense", "Insurance", "Expense"),
    ("Job Expenses", "Expense", "SuppliesMaterials", "Expense"),
    ("Fees Billed", "Income", "ServiceFeeIncome", "Revenue"),
    # Accounts the discounts, deposits and journal entries post to.
    ("Discounts given", "Income", "DiscountsRefundsGiven", "Revenue"),
    ("Interest Earned", "Other Income", "InterestEarned", "Revenue"),
    ("Depreciation", "Other Expense", "Depreciation", "Expense"),
    ("Truck", "Fixed Asset", "Vehicles", "Asset"),
    ("Accumulated Depreciation", "Fixed Asset", "AccumulatedDepreciation", "Asset"),
    ("Accrued Liabilities", "Other Current Liability", "AccruedLiabilities", "Liability"),
    ("Owner's Equity", "Equity", "OwnersEquity", "Equity"),
)
INACTIVE_ACCOUNTS = frozenset({"Fees Billed"})
EXPENSE_ACCOUNTS = ("Advertising", "Rent or Lease", "Utilities", "Office Expenses", "Insurance", "Job Expenses")

# (name, Type, unit price in cents, income account, taxable)
ITEMS = (
    ("Services", "Service", 12000, "Services", False),
    ("Design", "Service", 7500, "Design income", False),
    ("Gardening", "Service", 2500, "Services", False),
    ("Installation", "Service", 5000, "Services", False),
    ("Maintenance & Repair", "Service", 4500, "Services", False),
    ("Pest Control", "Service", 3500, "Services", False),
    ("Trimming", "Service", 3500, "Services", False),
    ("Rock Fountain", "Inventory", 27500, "Sales of Product Income", True),
    ("Pump", "Inventory", 1500, "Sales of Product Income", True),
    ("Sprinkler Heads", "Inventory", 200, "Sales of Product Income", True),
    ("Sprinkler Pipes", "Inventory", 400, "Sales of Product Income", True),
    ("Rocks", "NonInventory", 2250, "Sales of Product Income", True),
    ("Sod", "NonInventory", 1250, "Sales of Product Income", True),
    ("Soil", "NonInventory", 1000, "Sales of Product Income", True),
    ("Hours", "Service", 0, "Services", False),
)
INACTIVE_ITEMS = frozenset({"Hours"})

# (name, due days, active)
TERMS = (("Due on receipt", 0, True), ("Net 15", 15, True), ("Net 30", 30, True), ("Net 60", 60, True),
         ("Net 90", 90, False))
# (name, Type, active)
PAYMENT_METHODS = (
    ("Cash", "NON_CREDIT_CARD", True), ("Check", "NON_CREDIT_CARD", True), ("Visa", "CREDIT_CARD", True),
    ("MasterCard", "CREDIT_CARD", True), ("Discover", "CREDIT_CARD", True),
    ("American Express", "CREDIT_CARD", True), ("Diners Club", "CREDIT_CARD", False),
)
CLASSES = (("Landscaping", True), ("Maintenance", True), ("Retail", True), ("Events", False))
DEPARTMENTS = (("Garden Center", True), ("Field Services", True), ("Pop-up Store", False))


@dataclass
class Lists:
    """Everything the transaction builders need to reference."""

    accounts: dict[str, Draft]
    items: list[Draft]
    terms: list[Draft]
    payment_methods: list[Draft]
    customers: list[Draft]
    vendors: list[Draft]
    others: dict[str, list[Draft]]


def ref(draft: Draft, name_key: str = "Name") -> dict[str, str]:
    return {"value": draft.id, "name": str(draft.record[name_key])}


def _setup_moment(ctx: GenContext, setup: datetime, index: int) -> datetime:
    # Company setup: lists entered one after another over the first morning.
    return setup + timedelta(seconds=37 * index + ctx.rng.randint(0, 30))


def _later_edit(ctx: GenContext, draft: Draft, probability: float) -> None:
    if ctx.rng.random() < probability:
        draft.edit(ctx.after(draft.created, within=timedelta(days=400)))


def build_accounts(ctx: GenContext, setup: datetime) -> dict[str, Draft]:
    result: dict[str, Draft] = {}
    for index, (name, kind, subtype, classification) in enumerate(ACCOUNTS):
        created = _setup_moment(ctx, setup, index)
        record = {"Name": name, "SubAccount": False, "FullyQualifiedName": name, "Active": True,
                  "Classification": classification, "AccountType": kind, "AccountSubType": subtype,
                  "CurrentBalance": 0, "CurrentBalanceWithSubAccounts": 0, "CurrencyRef": dict(USD),
                  **base_fields()}
        draft = Draft("Account", record, created, created)
        if name in INACTIVE_ACCOUNTS:
            _deactivate(ctx, draft, "Name", also=("FullyQualifiedName",))
        result[name] = draft
    return result


def build_items(ctx: GenContext, setup: datetime, accounts: dict[str, Draft]) -> list[Draft]:
    drafts = []
    for index, (name, kind, price, income, taxable) in enumerate(ITEMS):
        created = _setup_moment(ctx, setup, 100 + index)
        record: dict[str, Any] = {"Name": name}
        if name in names.LINE_DESCRIPTIONS:
            record["Description"] = names.LINE_DESCRIPTIONS[name]
        record.update({"Active": True, "FullyQualifiedName": name, "Taxable": taxable,
                       "UnitPrice": to_money(price), "Type": kind,
                       "IncomeAccountRef": ref(accounts[income]), "PurchaseCost": 0})
        if kind == "Inventory":
            record["ExpenseAccountRef"] = ref(accounts["Cost of Goods Sold"])
            record["AssetAccountRef"] = ref(accounts["Inventory Asset"])
            record["TrackQtyOnHand"] = True
            record["QtyOnHand"] = ctx.rng.randint(5, 400)
            record["InvStartDate"] = ctx.local_day(setup).isoformat()
        else:
            record["TrackQtyOnHand"] = False
        record.update(base_fields())
        draft = Draft("Item", record, created, created)
        if name in INACTIVE_ITEMS:
            _deactivate(ctx, draft, "Name", also=("FullyQualifiedName",))
        else:
            _later_edit(ctx, draft, 0.2)
        drafts.append(draft)
    return drafts


def build_simple_lists(ctx: GenContext, setup: datetime) -> dict[str, list[Draft]]:
    """Term, PaymentMethod, Class and Department: short fixed lists, one inactive row each."""
    out: dict[str, list[Draft]] = {"Term": [], "PaymentMethod": [], "Class": [], "Department": []}
    step = 200
    for name, days, active in TERMS:
        record = {"Name": name, "Active": True, "Type": "STANDARD", "DiscountPercent": 0, "DueDays": days,
                  "DiscountDays": 0, **base_fields()}
        out["Term"].append(_list_draft(ctx, "Term", record, setup, step, active))
        step += 1
    for name, kind, active in PAYMENT_METHODS:
        record = {"Name": name, "Active": True, "Type": kind, **base_fields()}
        out["PaymentMethod"].append(_list_draft(ctx, "PaymentMethod", record, setup, step, active))
        step += 1
    for name, active in CLASSES:
        record = {"Name": name, "SubClass": False, "FullyQualifiedName": name, "Active": True,
                  **base_fields()}
        out["Class"].append(_list_draft(ctx, "Class", record, setup, step, active))
        step += 1
    for name, active in DEPARTMENTS:
        record = {"Name": name, "SubDepartment": False, "FullyQualifiedName": name, "Active": True,
                  **base_fields()}
        out["Department"].append(_list_draft(ctx, "Department", record, setup, step, active))
        step += 1
    return out


def _list_draft(ctx: GenContext, entity: str, record: dict[str, Any], setup: datetime, step: int,
                active: bool) -> Draft:
    created = _setup_moment(ctx, setup, step)
    draft = Draft(entity, record, created, created)
    if not active:
        also = ("FullyQualifiedName",) if "FullyQualifiedName" in record else ()
        _deactivate(ctx, draft, "Name", also=also)
    return draft


def _deactivate(ctx: GenContext, draft: Draft, name_key: str, also: tuple[str, ...] = (),
                after: datetime | None = None) -> None:
    """Make a list row inactive the way QBO does: `Active` false and " (deleted)" on its name."""
    start = max(after or draft.created, draft.created)
    draft.edit(ctx.after(start, within=ctx.as_of - start))
    draft.record["Active"] = False
    for key in (name_key, *also):
        draft.record[key] = f"{draft.record[key]} (deleted)"


def deactivate(ctx: GenContext, draft: Draft, after: datetime) -> None:
    also = ("FullyQualifiedName",) if "FullyQualifiedName" in draft.record else ()
    _deactivate(ctx, draft, "DisplayName", also=also, after=after)


def _unique(ctx_names: set[str], wanted: str) -> str:
    candidate, n = wanted, 2
    while candidate in ctx_names:
        candidate, n = f"{wanted} {n}", n + 1
    ctx_names.add(candidate)
    return candidate


def _address(ctx: GenContext) -> dict[str, str]:
    city, state, postal, lat, lon = ctx.rng.choice(names.TOWNS)
    return {"Id": ctx.next_address_id(), "Line1": f"{ctx.rng.randint(10, 9999)} {ctx.rng.choice(names.STREETS)}",
            "City": city, "CountrySubDivisionCode": state, "PostalCode": postal,
            "Lat": f"{lat + ctx.rng.uniform(-0.05, 0.05):.7f}", "Long": f"{lon + ctx.rng.uniform(-0.05, 0.05):.7f}"}


def _phone(ctx: GenContext) -> dict[str, str]:
    return {"FreeFormNumber": f"({ctx.rng.choice((415, 650, 408, 520, 510))}) 555-{ctx.rng.randint(0, 9999):04d}"}


def _email(display: str) -> dict[str, str]:
    local = "".join(ch for ch in display if ch.isalnum())[:20] or "info"
    return {"Address": f"{local}@example.com"}


def build_customers(ctx: GenContext, count: int, setup: datetime, used: set[str]) -> list[Draft]:
    rng = ctx.rng
    drafts: list[Draft] = []
    parents: list[Draft] = []
    for index in range(count):
        # About 40% were imported at setup; the rest arrive over the history.
        if index < max(1, int(count * 0.4)):
            created = _setup_moment(ctx, setup, 400 + index)
        else:
            created = ctx.moment_between(ctx.history_start, ctx.as_of - timedelta(days=3))
        if parents and rng.random() < 0.1:
            drafts.append(_job(ctx, rng.choice(parents), created, used))
        else:
            draft = _customer(ctx, created, used)
            drafts.append(draft)
            if draft.extra["business"]:
                parents.append(draft)
    return drafts


def _customer(ctx: GenContext, created: datetime, used: set[str]) -> Draft:
    rng = ctx.rng
    given, family = rng.choice(names.GIVEN_NAMES), rng.choice(names.FAMILY_NAMES)
    business = rng.random() < 0.7
    wanted = f"{rng.choice(names.BUSINESS_FIRST)} {rng.choice(names.BUSINESS_SECOND)}" if business \
        else f"{given} {family}"
    display = _unique(used, wanted)
    record: dict[str, Any] = {"Taxable": rng.random() < 0.4}
    if rng.random() < 0.85:
        bill = _address(ctx)
        record["BillAddr"] = bill
        if rng.random() < 0.6:
            record["ShipAddr"] = dict(bill)
    record.update({"Job": False, "BillWithParent": False, "Balance": 0, "BalanceWithJobs": 0,
                   "CurrencyRef": dict(USD), "PreferredDeliveryMethod": "Print", **base_fields()})
    if business or rng.random() < 0.8:
        record["GivenName"] = given
        record["FamilyName"] = family
    record["FullyQualifiedName"] = display
    if business:
        record["CompanyName"] = display
    record.update({"DisplayName": display, "PrintOnCheckName": display, "Active": True})
    _contact_details(ctx, record, display)
    draft = Draft("Customer", record, created, created, extra={"business": business})
    _later_edit(ctx, draft, 0.15)
    return draft


def _job(ctx: GenContext, parent: Draft, created: datetime, used: set[str]) -> Draft:
    rng = ctx.rng
    created = max(created, parent.created + timedelta(days=1))
    display = _unique(used, f"{rng.randint(10, 9999):04d} {rng.choice(names.STREETS)}")
    record: dict[str, Any] = {"Taxable": bool(parent.record["Taxable"])}
    if rng.random() < 0.8:
        address = _address(ctx)
        record["BillAddr"] = address
        record["ShipAddr"] = dict(address)
    record.update({"Job": True, "BillWithParent": rng.random() < 0.3, "ParentRef": {"value": None},
                   "Level": 1, "Balance": 0, "BalanceWithJobs": 0, "CurrencyRef": dict(USD),
                   "PreferredDeliveryMethod": "Print", **base_fields(),
                   "FullyQualifiedName": f"{parent.record['FullyQualifiedName']}:{display}",
                   "CompanyName": parent.record["DisplayName"], "DisplayName": display,
                   "PrintOnCheckName": parent.record["DisplayName"], "Active": True})
    _contact_details(ctx, record, str(parent.record["DisplayName"]))
    return Draft("Customer", record, created, created, extra={"parent": parent})


def _contact_details(ctx: GenContext, record: dict[str, Any], display: str) -> None:
    rng = ctx.rng
    if rng.random() < 0.8:
        record["PrimaryPhone"] = _phone(ctx)
    if rng.random() < 0.2:
        record["Mobile"] = _phone(ctx)
    if rng.random() < 0.1:
        record["Fax"] = _phone(ctx)
    if rng.random() < 0.75:
        record["PrimaryEmailAddr"] = _email(display)
    if rng.random() < 0.2:
        record["WebAddr"] = {"URI": f"http://www.{_email(display)['Address'].split('@')[0].lower()}.example.com"}


def link_jobs(customers: list[Draft]) -> None:
    """Fill ParentRef once Ids exist (jobs point at their parent customer)."""
    for draft in customers:
        parent = draft.extra.get("parent")
        if parent is not None:
            draft.record["ParentRef"] = {"value": parent.id}


def build_vendors(ctx: GenContext, count: int, setup: datetime, used: set[str],
                  terms: list[Draft]) -> list[Draft]:
    rng = ctx.rng
    drafts = []
    for index in range(count):
        if index < len(names.VENDOR_NAMES):
            wanted = names.VENDOR_NAMES[index]
        else:
            wanted = f"{rng.choice(names.BUSINESS_FIRST)} {rng.choice(('Supply', 'Services', 'Rentals', 'Wholesale'))}"
        display = _unique(used, wanted)
        created = _setup_moment(ctx, setup, 900 + index) if rng.random() < 0.6 else \
            ctx.moment_between(ctx.history_start, ctx.as_of - timedelta(days=30))
        record: dict[str, Any] = {}
        if rng.random() < 0.7:
            record["BillAddr"] = _address(ctx)
        if rng.random() < 0.15:
            record["TaxIdentifier"] = f"XXXXXX{rng.randint(0, 9999):04d}"
        if rng.random() < 0.3:
            record["TermRef"] = {"value": rng.choice(terms[1:4]).id}
        record["Balance"] = 0
        if rng.random() < 0.4:
            record["AcctNum"] = str(rng.randint(1000, 9999999))
        record.update({"Vendor1099": rng.random() < 0.2, "CurrencyRef": dict(USD), **base_fields()})
        if rng.random() < 0.5:
            record["GivenName"] = rng.choice(names.GIVEN_NAMES)
            record["FamilyName"] = rng.choice(names.FAMILY_NAMES)
            record["CompanyName"] = display
        record.update({"DisplayName": display, "PrintOnCheckName": display, "Active": True})
        _contact_details(ctx, record, display)
        draft = Draft("Vendor", record, created, created)
        # Roughly one vendor in ten was retired, as in the recorded sandbox company.
        if rng.random() < 0.1:
            _deactivate(ctx, draft, "DisplayName")
        drafts.append(draft)
    return drafts


def build_employees(ctx: GenContext, setup: datetime, used: set[str]) -> list[Draft]:
    rng = ctx.rng
    drafts = []
    for index in range(5):
        given, family = rng.choice(names.GIVEN_NAMES), rng.choice(names.FAMILY_NAMES)
        display = _unique(used, f"{given} {family}")
        record: dict[str, Any] = {"BillableTime": False}
        if rng.random() < 0.5:
            record["BirthDate"] = f"{rng.randint(1960, 2000)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            record["HiredDate"] = ctx.local_day(setup - timedelta(days=rng.randint(30, 2000))).isoformat()
        record.update({**base_fields(), "GivenName": given, "FamilyName": family, "DisplayName": display,
                       "PrintOnCheckName": display, "Active": True})
        if rng.random() < 0.6:
            record["PrimaryPhone"] = _phone(ctx)
        created = _setup_moment(ctx, setup, 300 + index)
        draft = Draft("Employee", record, created, created)
        if index == 4:
            _deactivate(ctx, draft, "DisplayName")
        drafts.append(draft)
    return drafts


def build_company(ctx: GenContext, setup: datetime, company_name: str) -> dict[str, list[Draft]]:
    address = {"Id": "1", "Line1": "123 Sierra Way", "City": "San Pablo", "CountrySubDivisionCode": "CA",
               "PostalCode": "87999", "Lat": "36.6788345", "Long": "-116.0100000"}
    info = {"CompanyName": company_name, "LegalName": company_name, "CompanyAddr": dict(address),
            "CustomerCommunicationAddr": dict(address), "LegalAddr": dict(address),
            "PrimaryPhone": {"FreeFormNumber": "(650) 555-0100"},
            "CompanyStartDate": ctx.local_day(setup).isoformat(), "FiscalYearStartMonth": "January",
            "Country": "US", "Email": {"Address": "noreply@quickbooks.com"}, "WebAddr": {},
            "SupportedLanguages": "en",
            "NameValue": [{"Name": "NeoEnabled", "Value": "true"},
                          {"Name": "IndustryType", "Value": "Landscaping Services"},
                          {"Name": "CompanyType", "Value": "Other"},
                          {"Name": "SubscriptionStatus", "Value": "PAID"},
                          {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"},
                          {"Name": "PayrollFeature", "Value": "false"},
                          {"Name": "AccountantFeature", "Value": "false"}],
            **base_fields(), "Id": "1"}
    prefs = {"AccountingInfoPrefs": {"TrackDepartments": True, "DepartmentTerminology": "Location",
                                     "ClassTrackingPerTxn": False, "ClassTrackingPerTxnLine": True,
                                     "CustomerTerminology": "Customers", "FirstMonthOfFiscalYear": "January",
                                     "TaxYearMonth": "January"},
             "CurrencyPrefs": {"MultiCurrencyEnabled": True, "HomeCurrency": {"value": "USD"}},
             **base_fields(), "Id": "1"}
    info_draft = Draft("CompanyInfo", info, setup, setup)
    info_draft.edit(setup + timedelta(days=3))
    return {"CompanyInfo": [info_draft], "Preferences": [Draft("Preferences", prefs, setup, setup)]}
