"""Which transaction posts what, and when: the rules behind the simulator's reports.

Accrual basis, every transaction on its TxnDate:
- Invoice: credit each item line's income account (the item's IncomeAccountRef), debit its discount lines'
  account, credit the sales tax; debit A/R with the total. SalesReceipt: the same, debiting its deposit
  account (Undeposited Funds by default). CreditMemo and RefundReceipt: the reverse (RefundReceipt
  crediting the account the refund is paid from).
- Bill: debit each line's account (AccountBasedExpenseLineDetail's AccountRef; for an item line the
  item's AssetAccountRef when it is stock, its ExpenseAccountRef otherwise), credit A/P. VendorCredit:
  the reverse. Purchase: like a bill, credited to the account paid from (checking, cash or credit card);
  a credit card credit runs backwards.
- Payment: debit the deposit account, credit A/R. BillPayment: debit A/P, credit the bank or card
  (CheckPayment.BankAccountRef or CreditCardPayment.CCAccountRef).
- Deposit: debit the deposit account; credit Undeposited Funds for lines that deposit a payment or
  receipt, the line's account otherwise; cash back debits its account.
- JournalEntry: each line as posted. The opening balance (demo_balances.OPENING_CHECKING, which no record
  carries) is debited to Checking and credited to Opening Balance Equity on CompanyStartDate.

Cash basis: the same, except that an invoice posts nothing by itself. Each payment line applied to an
invoice recognises that amount on the payment's TxnDate, spread over the invoice's income, discount and
tax in proportion to their amounts (largest remainder, to the cent); a payment's unapplied amount is
customer credit in A/R, not income. Likewise a bill posts nothing until a BillPayment line pays it.
Credit memos and vendor credits count on their own TxnDate on both bases (a simplification: QBO
recognises them when applied). Details of payments, and exchange differences: ledger_payments.py.

Foreign-currency transactions post in home currency at their own ExchangeRate: a total converts once
(round(total x rate), QBO's HomeTotalAmt) and is spread over the lines in proportion.
Estimates post nothing. Voided transactions carry zero amounts and post nothing; deleted ones are no
longer in the store. Sales of stock post no cost of goods sold (the demo items carry no purchase cost).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from .demo_balances import OPENING_CHECKING
from .ledger import Basis, Chart, Entries, Ledger, amount, fiscal_start_month, rate_of, rows, txn_date
from .ledger_payments import Applications, PaymentRules

if TYPE_CHECKING:
    from .store import RealmStore

_SALES_TAX_SUBTYPES = ("SalesTaxPayable", "GlobalTaxPayable")


class Rules:
    def __init__(self, store: RealmStore, basis: Basis) -> None:
        self.store = store
        self.chart = Chart(store)
        chart = self.chart
        self.receivable = chart.find(kind="Accounts Receivable") or chart.synthetic("Accounts Receivable (A/R)",
                                                                                    "Accounts Receivable")
        self.payable = chart.find(kind="Accounts Payable") or chart.synthetic("Accounts Payable (A/P)",
                                                                             "Accounts Payable")
        self.undeposited = chart.find(subtypes=("UndepositedFunds",)) or chart.synthetic("Undeposited Funds",
                                                                                         "Other Current Asset")
        self.checking = chart.find(kind="Bank", name="Checking") or chart.synthetic("Checking", "Bank")
        self.sales_tax = chart.find(subtypes=_SALES_TAX_SUBTYPES) or chart.synthetic("Sales Tax Payable",
                                                                                     "Other Current Liability")
        self.discounts = chart.find(subtypes=("DiscountsRefundsGiven",)) or chart.synthetic("Discounts given",
                                                                                            "Income")
        self.opening = chart.synthetic("Opening Balance Equity", "Equity")
        self.income = chart.synthetic("Uncategorized Income", "Income")
        self.expense = chart.synthetic("Uncategorized Expense", "Expense")
        self.suspense = chart.synthetic("Journal Entry Suspense", "Equity")
        self.ledger = Ledger(basis, chart.accounts, fiscal_start_month(store))

    # -- what a transaction's lines post to --------------------------------------------------------
    def sales_entries(self, record: dict[str, Any]) -> Entries:
        """Credit-side entries of a sale: income per item line, less discounts, plus sales tax."""
        out: Entries = []
        for line in record.get("Line") or []:
            kind = line.get("DetailType")
            detail = line.get(kind) if isinstance(kind, str) else None
            if kind == "SalesItemLineDetail" and isinstance(detail, dict):
                out.append((self.chart.item_account(detail, "IncomeAccountRef", self.income),
                            amount(line.get("Amount"))))
            elif kind == "DiscountLineDetail" and isinstance(detail, dict):
                out.append((self.chart.ref(detail.get("DiscountAccountRef"), self.discounts),
                            -amount(line.get("Amount"))))
        tax = amount((record.get("TxnTaxDetail") or {}).get("TotalTax"))
        if tax:
            out.append((self.sales_tax, tax))
        return [(account, cents) for account, cents in out if cents]

    def expense_entries(self, record: dict[str, Any]) -> Entries:
        out: Entries = []
        for line in record.get("Line") or []:
            kind = line.get("DetailType")
            detail = line.get(kind) if isinstance(kind, str) else None
            if kind == "AccountBasedExpenseLineDetail" and isinstance(detail, dict):
                out.append((self.chart.ref(detail.get("AccountRef"), self.expense), amount(line.get("Amount"))))
            elif kind == "ItemBasedExpenseLineDetail" and isinstance(detail, dict):
                out.append((self._purchased_item_account(detail), amount(line.get("Amount"))))
        return [(account, cents) for account, cents in out if cents]

    def _purchased_item_account(self, detail: dict[str, Any]) -> str:
        # Stock bought goes to the inventory asset (its cost reaches COGS only when sold, which the
        # simulator does not post); other items are expensed.
        item = self.store.get("Item", str((detail.get("ItemRef") or {}).get("value", ""))) or {}
        if item.get("Type") == "Inventory" and item.get("AssetAccountRef"):
            return self.chart.ref(item["AssetAccountRef"], self.expense)
        return self.chart.ref(item.get("ExpenseAccountRef"), self.expense)

    def _deposit_account(self, record: dict[str, Any]) -> str:
        return self.chart.ref(record.get("DepositToAccountRef"), self.undeposited)

    # -- the books ---------------------------------------------------------------------------------
    def build(self) -> Ledger:
        self._opening()
        cash = self.ledger.basis == "Cash"
        post = self.ledger.split
        for r in rows(self.store, "SalesReceipt"):
            post(txn_date(r), self.sales_entries(r), self._deposit_account(r), rate_of(r), -1)
        for r in rows(self.store, "RefundReceipt"):
            post(txn_date(r), self.sales_entries(r), self._deposit_account(r), rate_of(r), 1)
        for r in rows(self.store, "CreditMemo"):
            post(txn_date(r), self.sales_entries(r), self.receivable, rate_of(r), 1)
        for r in rows(self.store, "VendorCredit"):
            post(txn_date(r), self.expense_entries(r), self.payable, rate_of(r), -1)
        for r in rows(self.store, "Purchase"):
            sign = -1 if r.get("Credit") is True else 1  # a credit card credit (refund) runs backwards
            post(txn_date(r), self.expense_entries(r), self.chart.ref(r.get("AccountRef"), self.checking), rate_of(r),
                 sign)
        for r in rows(self.store, "Deposit"):
            self._deposit(r)
        for r in rows(self.store, "JournalEntry"):
            self._journal(r)
        self._payments(cash)
        if not cash:
            for r in rows(self.store, "Invoice"):
                post(txn_date(r), self.sales_entries(r), self.receivable, rate_of(r), -1)
            for r in rows(self.store, "Bill"):
                post(txn_date(r), self.expense_entries(r), self.chart.ref(r.get("APAccountRef"), self.payable),
                     rate_of(r), 1)
        return self.ledger

    def _opening(self) -> None:
        info = self.store.get("CompanyInfo", "1") or {}
        if info.get("CompanyStartDate"):
            day = date.fromisoformat(str(info["CompanyStartDate"])[:10])
            self.ledger.split(day, [(self.checking, OPENING_CHECKING)], self.opening, 1.0, 1)

    def _deposit(self, record: dict[str, Any]) -> None:
        entries: Entries = []
        for line in record.get("Line") or []:
            detail = line.get("DepositLineDetail") or {}
            source = self.undeposited if line.get("LinkedTxn") else self.chart.ref(detail.get("AccountRef"),
                                                                                    self.income)
            entries.append((source, amount(line.get("Amount"))))
        cash_back = record.get("CashBack") or {}
        if amount(cash_back.get("Amount")):
            entries.append((self.chart.ref(cash_back.get("AccountRef"), self.checking), -amount(cash_back["Amount"])))
        self.ledger.split(txn_date(record), [e for e in entries if e[1]], self._deposit_account(record),
                          rate_of(record), -1)

    def _journal(self, record: dict[str, Any]) -> None:
        entries: Entries = []
        for line in record.get("Line") or []:
            detail = line.get("JournalEntryLineDetail") or {}
            sign = -1 if detail.get("PostingType") == "Credit" else 1
            entries.append((self.chart.ref(detail.get("AccountRef"), self.suspense), sign * amount(line.get("Amount"))))
        # A journal entry balances; should one not, the difference goes to a suspense account.
        self.ledger.split(txn_date(record), [e for e in entries if e[1]], self.suspense, rate_of(record), 1)

    def _paid_from(self, record: dict[str, Any]) -> str:
        check = (record.get("CheckPayment") or {}).get("BankAccountRef")
        card = (record.get("CreditCardPayment") or {}).get("CCAccountRef")
        return self.chart.ref(check or card, self.checking)

    def _payments(self, cash: bool) -> None:
        exchange = self.chart.synthetic("Exchange Gain or Loss", "Other Expense")
        received = PaymentRules(self.ledger, Applications(self.store, "Payment", ("Invoice", "CreditMemo")),
                                self.receivable, exchange, self.sales_entries, 1)
        paid = PaymentRules(self.ledger, Applications(self.store, "BillPayment", ("Bill", "VendorCredit")),
                            self.payable, exchange, self.expense_entries, -1)
        for r in rows(self.store, "Payment"):
            (received.cash if cash else received.accrual)(r, self._deposit_account(r))
        for r in rows(self.store, "BillPayment"):
            (paid.cash if cash else paid.accrual)(r, self._paid_from(r))


def build_ledger(store: RealmStore, basis: Basis) -> Ledger:
    """All postings of the company's current records on the given basis."""
    return Rules(store, basis).build()
