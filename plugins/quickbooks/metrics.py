"""QuickBooks Online metrics, in the company's home currency, by transaction date (TxnDate is already the
company's local business date).

Home amount: HomeTotalAmt when QuickBooks sent it, else TotalAmt x ExchangeRate (rounded to cents), else
TotalAmt (a single-currency company sends neither).
"""

from __future__ import annotations

from dataclasses import replace

from shared.metrics.catalog import LIVE, Aggregation, Metric, PluginMetrics, Source, Unit

PLUGIN = "quickbooks"
HOME = "coalesce(r.home_total_amt, round(r.total_amt * r.exchange_rate, 2), r.total_amt)"
_MONEY = ("r.txn_date", "r.total_amt", "r.home_total_amt", "r.exchange_rate", "r.currency", "r.voided",
          "r.deleted_at")
CURRENCY = (("currency", "r.currency"),)
# A credit card credit (Purchase.Credit = true) is money coming back: it counts negative.
PURCHASE_SIGN = "CASE WHEN r.payload -> 'Credit' = 'true'::jsonb THEN -1 ELSE 1 END"
NOT_CARD = "coalesce(r.{column}, '') <> 'CreditCard'"


def _txn(table: str, label: str, *, value: str = HOME, extra_reads: tuple[str, ...] = (),
         filters: tuple[str, ...] = (), dims: tuple[tuple[str, str], ...] = CURRENCY) -> Source:
    reads = (*_MONEY, *extra_reads, *(e for _, e in dims if e not in _MONEY))
    return Source(table, "r.txn_date", value, label=label, dimensions=dims, filters=filters,
                  reads=tuple(dict.fromkeys(reads)))


def _negated(source: Source) -> Source:
    return replace(source, value=f"-({source.value})")


INVOICE = _txn("qbo_invoice", "invoice", extra_reads=("r.due_date", "r.customer_id"))
SALES_RECEIPT = _txn("qbo_sales_receipt", "sales_receipt", extra_reads=("r.customer_id",))
CREDIT_MEMO = _txn("qbo_credit_memo", "credit_memo")
REFUND = _txn("qbo_refund_receipt", "refund_receipt")
PAYMENT = _txn("qbo_payment", "payment", extra_reads=("r.customer_id",))
PURCHASE = _txn("qbo_purchase", "purchase", value=f"{PURCHASE_SIGN} * {HOME}",
                extra_reads=("r.payment_type", "r.payload -> 'Credit'"))
BILL = _txn("qbo_bill", "bill")
BILL_PAYMENT = _txn("qbo_bill_payment", "bill_payment", extra_reads=("r.pay_type",))

# Overdue receivables: an invoice is overdue from the day after its due date; a payment applied to it
# takes its amount out from the later of the payment date and that day. Every event of an invoice is thus
# on or after its due date + 1, and every event of a payment on or after its TxnDate: the dates the
# triggers mark, so restating from the earliest marked date forward is complete. (Marking the exact event
# days would need joins in the triggers, which miss rows a concurrent load of the other table has not
# committed yet: streams load in parallel.)
_DUE = "coalesce(r.due_date, r.txn_date)"
OVERDUE_INVOICE = Source(
    "qbo_invoice", f"{_DUE} + 1", HOME, label="invoice", reads=INVOICE.reads,
    # Both served by the index qbo_invoice_due (migrations/0007_quickbooks_metrics.sql).
    since=f"{_DUE} >= %(since)s - 1",
    keyed=f"{_DUE} IN (SELECT unnest(%(marked_qbo_invoice)s::date[]) - 1)",
)
APPLIED_PAYMENTS = """(
    SELECT l.connection_id, p.txn_date AS paid_on, coalesce(i.due_date, i.txn_date) AS due,
           round(l.amount * coalesce(i.exchange_rate, 1), 2) AS amount
    FROM qbo_txn_line l
    JOIN qbo_payment p ON p.connection_id = l.connection_id AND p.id = l.txn_id
    JOIN qbo_invoice i ON i.connection_id = l.connection_id AND i.id = l.payload -> 'LinkedTxn' -> 0 ->> 'TxnId'
    WHERE l.txn_type = 'Payment' AND l.payload -> 'LinkedTxn' -> 0 ->> 'TxnType' = 'Invoice'
      AND p.deleted_at IS NULL AND NOT coalesce(p.voided, false)
      AND i.deleted_at IS NULL AND NOT coalesce(i.voided, false)
) r"""
# The same applications found from their invoices (by due date), then the invoices' payment lines and their
# payments; OFFSET 0 keeps the planner from starting at every line or payment.
APPLIED_BY_DUE_DATE = """(
    SELECT i.connection_id, p.txn_date AS paid_on, coalesce(i.due_date, i.txn_date) AS due,
           round(l.amount * coalesce(i.exchange_rate, 1), 2) AS amount
    FROM qbo_invoice i
    CROSS JOIN LATERAL (SELECT l.txn_id, l.amount FROM qbo_txn_line l
                        WHERE l.connection_id = i.connection_id AND l.txn_type = 'Payment'
                          AND l.payload -> 'LinkedTxn' -> 0 ->> 'TxnId' = i.id
                          AND l.payload -> 'LinkedTxn' -> 0 ->> 'TxnType' = 'Invoice' OFFSET 0) l
    CROSS JOIN LATERAL (SELECT p.txn_date FROM qbo_payment p
                        WHERE p.connection_id = i.connection_id AND p.id = l.txn_id
                          AND p.deleted_at IS NULL AND NOT coalesce(p.voided, false) OFFSET 0) p
    WHERE i.deleted_at IS NULL AND NOT coalesce(i.voided, false)
) r"""
# An application's event comes from its payment (the payment trigger, and the line trigger for its lines, mark
# the payment's TxnDate) and its invoice (whose trigger marks its due date + 1): its keys (refresh.py).
_APPLIED = Source("qbo_payment", "greatest(r.paid_on, r.due + 1)", "-r.amount", label="payment", live=(),
                  relation=APPLIED_PAYMENTS, also_dirty_from=("qbo_invoice",), reads=PAYMENT.reads,
                  keys=(("qbo_invoice", "r.due + 1"), ("qbo_payment", "r.paid_on")))
# The applications are read in two halves, each found through an index. Restating from a day: paid on or after
# it (by payment date), or paid before it on an invoice falling due from it (by due date); a rebuild (since =
# 0001-01-01) reads all of the first half and skips the second. Restating a change's events (keyed): paid on a
# marked payment date, or else falling due on a marked invoice date.
OVERDUE_PAYMENTS = (
    replace(_APPLIED, since="r.paid_on >= %(since)s", keyed="r.paid_on = ANY(%(marked_qbo_payment)s::date[])"),
    replace(_APPLIED, relation=APPLIED_BY_DUE_DATE,
            since="%(since)s::date > '0001-01-01'::date AND r.paid_on < %(since)s AND r.due >= %(since)s - 1",
            keyed="r.due IN (SELECT unnest(%(marked_qbo_invoice)s::date[]) - 1) "
                  "AND (r.paid_on = ANY(%(marked_qbo_payment)s::date[])) IS NOT TRUE"),
)

NEW_CUSTOMER = Source(
    # QuickBooks writes timestamps at the company's own offset, so CreateTime's date is its local date.
    "qbo_customer", "(r.payload #>> '{MetaData,CreateTime}')::date", live=LIVE,
    filters=("NOT coalesce(r.is_job, false)",),
    reads=("r.payload #>> '{MetaData,CreateTime}'", "r.is_job", "r.deleted_at"),
)

_M = PLUGIN
METRICS: tuple[Metric, ...] = (
    Metric("qbo.revenue_invoiced", "Revenue invoiced", _M, Aggregation.SUM, Unit.HOME_CURRENCY, (INVOICE,),
           "Invoices by TxnDate.", ("currency",), ("finance",)),
    Metric("qbo.sales_receipts", "Sales receipts", _M, Aggregation.SUM, Unit.HOME_CURRENCY, (SALES_RECEIPT,),
           "Sales paid on the spot (SalesReceipt).", ("currency",), ("finance",)),
    Metric("qbo.credits_and_refunds", "Credit memos and refunds", _M, Aggregation.SUM, Unit.HOME_CURRENCY,
           (CREDIT_MEMO, REFUND), "Credit memos and refund receipts, as positive amounts.", ("currency",),
           ("finance",)),
    Metric("qbo.net_revenue", "Net revenue", _M, Aggregation.SUM, Unit.HOME_CURRENCY,
           (INVOICE, SALES_RECEIPT, _negated(CREDIT_MEMO), _negated(REFUND)),
           "Invoices + sales receipts - credit memos - refund receipts.", (), ("overview", "finance")),
    Metric("qbo.payments_received", "Payments received", _M, Aggregation.SUM, Unit.HOME_CURRENCY, (PAYMENT,),
           "Customer payments by TxnDate (applied or not).", ("currency",), ("overview", "finance")),
    Metric("qbo.expenses", "Expenses", _M, Aggregation.SUM, Unit.HOME_CURRENCY, (PURCHASE, BILL),
           "Purchases (checks, cash, card; card credits negative) and bills.", (), ("overview", "finance")),
    Metric("qbo.net_cash_flow", "Net cash flow", _M, Aggregation.SUM, Unit.HOME_CURRENCY,
           (PAYMENT, SALES_RECEIPT, _negated(REFUND),
            _negated(Source(PURCHASE.table, PURCHASE.date, PURCHASE.value, label="purchase",
                            filters=(NOT_CARD.format(column="payment_type"),), reads=PURCHASE.reads)),
            _negated(Source(BILL_PAYMENT.table, BILL_PAYMENT.date, BILL_PAYMENT.value, label="bill_payment",
                            filters=(NOT_CARD.format(column="pay_type"),), reads=BILL_PAYMENT.reads))),
           "Money in (payments, sales receipts) - money out (refunds, purchases and bill payments not paid "
           "by credit card: card spending leaves the bank when the card is paid).", (), ("overview", "finance")),
    Metric("qbo.open_receivables", "Open receivables", _M, Aggregation.BALANCE, Unit.HOME_CURRENCY,
           (Source(INVOICE.table, INVOICE.date, HOME, label="invoice", reads=INVOICE.reads),
            _negated(Source(PAYMENT.table, PAYMENT.date, HOME, label="payment", reads=PAYMENT.reads)),
            _negated(Source(CREDIT_MEMO.table, CREDIT_MEMO.date, HOME, label="credit_memo",
                            reads=CREDIT_MEMO.reads))),
           "The A/R balance at the end of each bucket: invoices - payments - credit memos dated up to then "
           "(unapplied payments and credits reduce it, as on the balance sheet).", (), ("overview", "finance")),
    Metric("qbo.overdue_receivables", "Overdue receivables", _M, Aggregation.BALANCE, Unit.HOME_CURRENCY,
           (OVERDUE_INVOICE, *OVERDUE_PAYMENTS),
           "At the end of each bucket: what is still unpaid of invoices past their due date, counting the "
           "payments applied to them up to then.", (), ("overview", "finance")),
    Metric("qbo.new_customers", "New customers", _M, Aggregation.COUNT, Unit.COUNT, (NEW_CUSTOMER,),
           "Customers (not sub-customers/jobs) by the local date they were created.", (), ("overview", "finance")),
    Metric("qbo.invoice_count", "Invoices", _M, Aggregation.COUNT, Unit.COUNT, (INVOICE,),
           "Number of invoices by TxnDate.", ("currency",), ("finance",)),
    Metric("qbo.average_invoice_value", "Average invoice value", _M, Aggregation.AVG, Unit.HOME_CURRENCY,
           (INVOICE,), "Mean home amount of the bucket's invoices.", ("currency",), ("finance",)),
    Metric("qbo.active_customers", "Active customers", _M, Aggregation.DISTINCT, Unit.COUNT,
           (Source(INVOICE.table, INVOICE.date, "r.customer_id", label="invoice",
                   filters=("r.customer_id IS NOT NULL",), reads=INVOICE.reads),
            Source(SALES_RECEIPT.table, SALES_RECEIPT.date, "r.customer_id", label="sales_receipt",
                   filters=("r.customer_id IS NOT NULL",), reads=SALES_RECEIPT.reads)),
           "Distinct customers invoiced or sold to in the bucket.", (), ("finance",)),
)

CATALOG = PluginMetrics(
    plugin=PLUGIN,
    metrics=METRICS,
    fiscal_start_sql="""SELECT fiscal_year_start_month FROM qbo_company_info
                        WHERE connection_id = %(cid)s AND deleted_at IS NULL ORDER BY updated_at DESC LIMIT 1""",
)
