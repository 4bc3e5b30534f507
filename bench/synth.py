"""Synthetic QuickBooks raw records made directly in SQL (generate_series), for the metric benchmarks.

`records` counts rows of the entity tables (customers and transactions); payments also get one line each
in qbo_txn_line (the invoice it pays). Five years of dates ending 2026-10-31, biased to recent years; 1%
voided, 0.5% tombstoned, 5% in EUR. Payloads are minimal (the metrics read typed columns), so the
database stays a few GB at 10M rows. Deterministic (setseed).
"""

from __future__ import annotations

import psycopg

CONNECTION = "bench"
SHARES = {"customer": 0.02, "invoice": 0.35, "payment": 0.25, "sales_receipt": 0.10, "credit_memo": 0.02,
          "refund_receipt": 0.01, "bill": 0.08, "bill_payment": 0.06, "purchase": 0.11}
START, DAYS = "2021-11-01", 1826

# Common typed columns of every transaction table; %(n)s rows, ids 1..n.
_TXN = """INSERT INTO {table} (connection_id, id, created_at, updated_at, sync_token, txn_date, currency,
                               exchange_rate, total_amt, home_total_amt, voided, deleted_at, payload, run_id{extra})
SELECT %(cid)s, i::text, d::timestamptz, d::timestamptz + interval '1 hour', 0, d, cur,
       CASE cur WHEN 'EUR' THEN 1.08 ELSE 1 END, amt,
       CASE cur WHEN 'EUR' THEN round(amt * 1.08, 2) END,
       v < 0.01, CASE WHEN v > 0.995 THEN now() END, jsonb_build_object('Id', i::text), 'bench'{extra_values}
FROM (SELECT i, ('{start}'::date + (power(random(), 0.7) * ({days} - 1))::int) AS d,
             CASE WHEN random() < 0.05 THEN 'EUR' ELSE 'USD' END AS cur,
             round((20 + random() * 4980)::numeric, 2) AS amt, random() AS v, random() AS w
      FROM generate_series(1, %(n)s) AS i) g"""

_EXTRA = {
    "invoice": (", customer_id, due_date", ", (1 + (w * %(customers)s)::int)::text, d + 30"),
    "sales_receipt": (", customer_id", ", (1 + (w * %(customers)s)::int)::text"),
    "credit_memo": (", customer_id", ", (1 + (w * %(customers)s)::int)::text"),
    "refund_receipt": (", customer_id", ", (1 + (w * %(customers)s)::int)::text"),
    "bill": (", vendor_id, due_date", ", (1 + (w * 500)::int)::text, d + 30"),
    "bill_payment": (", pay_type", ", CASE WHEN w < 0.7 THEN 'Check' ELSE 'CreditCard' END"),
    "purchase": (", payment_type", ", (ARRAY['Cash', 'Check', 'CreditCard'])[1 + (w * 2.999)::int]"),
}

# Payment i pays invoice i, 0-60 days after it; one line each.
_PAYMENTS = """INSERT INTO qbo_payment (connection_id, id, created_at, updated_at, sync_token, txn_date, currency,
                                       exchange_rate, total_amt, customer_id, voided, deleted_at, payload, run_id)
SELECT %(cid)s, i.id, i.created_at, i.updated_at, 0, least(i.txn_date + (random() * 60)::int, '2026-10-31'),
       i.currency, i.exchange_rate, i.total_amt, i.customer_id, false, NULL, jsonb_build_object('Id', i.id), 'bench'
FROM qbo_invoice i WHERE i.connection_id = %(cid)s AND i.id::int <= %(n)s"""
_LINES = """INSERT INTO qbo_txn_line (connection_id, txn_type, txn_id, line_id, amount, payload)
SELECT %(cid)s, 'Payment', p.id, '~1', p.total_amt,
       jsonb_build_object('LinkedTxn', jsonb_build_array(jsonb_build_object('TxnId', p.id, 'TxnType', 'Invoice')))
FROM qbo_payment p WHERE p.connection_id = %(cid)s"""
_CUSTOMERS = """INSERT INTO qbo_customer (connection_id, id, created_at, updated_at, sync_token, display_name,
                                        is_job, payload, run_id)
SELECT %(cid)s, i::text, t, t, 0, 'Customer ' || i, random() < 0.1,
       jsonb_build_object('MetaData', jsonb_build_object('CreateTime', to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS"-07:00"'))),
       'bench'
FROM (SELECT i, '{start}'::timestamptz + random() * interval '{days} days' AS t
      FROM generate_series(1, %(n)s) AS i) g"""


def counts(records: int) -> dict[str, int]:
    return {name: max(1, round(records * share)) for name, share in SHARES.items()}


def generate(conn: psycopg.Connection, records: int, connection_id: str = CONNECTION) -> dict[str, int]:
    """Fill the raw tables (triggers off: the benchmark times the rebuild separately); returns rows per table."""
    sizes = counts(records)
    conn.execute("SET session_replication_role = replica")  # no dirty marks for the bulk fill
    conn.execute("SELECT setseed(0.42)")
    conn.execute("INSERT INTO connections (connection_id, plugin, display_name) VALUES (%s, 'quickbooks', 'Bench') "
                 "ON CONFLICT DO NOTHING", (connection_id,))
    params = {"cid": connection_id, "customers": sizes["customer"] - 1}
    conn.execute(_CUSTOMERS.format(start=START, days=DAYS), {**params, "n": sizes["customer"]})
    for name in ("invoice", "sales_receipt", "credit_memo", "refund_receipt", "bill", "bill_payment", "purchase"):
        extra, values = _EXTRA.get(name, ("", ""))
        conn.execute(_TXN.format(table=f"qbo_{name}", extra=extra, extra_values=values, start=START, days=DAYS),
                     {**params, "n": sizes[name]})
    conn.execute(_PAYMENTS, {**params, "n": sizes["payment"]})
    conn.execute(_LINES, params)
    conn.execute("SET session_replication_role = origin")
    conn.execute("ANALYZE")
    found = {}
    for name in (*SHARES, "txn_line"):
        found[name] = conn.execute(f"SELECT count(*) FROM qbo_{name} WHERE connection_id = %s",
                                   (connection_id,)).fetchone()[0]
    return found
