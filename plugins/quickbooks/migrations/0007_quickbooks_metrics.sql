-- legacy: 0007_metrics
-- QuickBooks' part of the single-folder layout's 0007_metrics: the metric triggers on its raw tables, the
-- indexes its metrics read through, and the Profit and Loss reconciliation view.

-- The tables the catalog (plugins/quickbooks/metrics.py) reads, with the columns it reads: dirty-marking triggers
-- installed by core's metric_watch() (shared/db/migrations/0007_metrics.sql).
SELECT metric_watch('qbo_bill', ARRAY['r.txn_date'],
    ARRAY['r.txn_date', 'r.total_amt', 'r.home_total_amt', 'r.exchange_rate', 'r.currency', 'r.voided', 'r.deleted_at']);
SELECT metric_watch('qbo_bill_payment', ARRAY['r.txn_date'],
    ARRAY['r.txn_date', 'r.total_amt', 'r.home_total_amt', 'r.exchange_rate', 'r.currency', 'r.voided', 'r.deleted_at', 'r.pay_type']);
SELECT metric_watch('qbo_credit_memo', ARRAY['r.txn_date'],
    ARRAY['r.txn_date', 'r.total_amt', 'r.home_total_amt', 'r.exchange_rate', 'r.currency', 'r.voided', 'r.deleted_at']);
SELECT metric_watch('qbo_customer', ARRAY['(r.payload #>> ''{MetaData,CreateTime}'')::date'],
    ARRAY['r.payload #>> ''{MetaData,CreateTime}''', 'r.is_job', 'r.deleted_at']);
SELECT metric_watch('qbo_invoice', ARRAY['r.txn_date', 'coalesce(r.due_date, r.txn_date) + 1'],
    ARRAY['r.txn_date', 'r.total_amt', 'r.home_total_amt', 'r.exchange_rate', 'r.currency', 'r.voided', 'r.deleted_at', 'r.due_date', 'r.customer_id']);
SELECT metric_watch('qbo_payment', ARRAY['r.txn_date'],
    ARRAY['r.txn_date', 'r.total_amt', 'r.home_total_amt', 'r.exchange_rate', 'r.currency', 'r.voided', 'r.deleted_at', 'r.customer_id']);
SELECT metric_watch('qbo_purchase', ARRAY['r.txn_date'],
    ARRAY['r.txn_date', 'r.total_amt', 'r.home_total_amt', 'r.exchange_rate', 'r.currency', 'r.voided', 'r.deleted_at', 'r.payment_type', 'r.payload -> ''Credit''']);
SELECT metric_watch('qbo_refund_receipt', ARRAY['r.txn_date'],
    ARRAY['r.txn_date', 'r.total_amt', 'r.home_total_amt', 'r.exchange_rate', 'r.currency', 'r.voided', 'r.deleted_at']);
SELECT metric_watch('qbo_sales_receipt', ARRAY['r.txn_date'],
    ARRAY['r.txn_date', 'r.total_amt', 'r.home_total_amt', 'r.exchange_rate', 'r.currency', 'r.voided', 'r.deleted_at', 'r.customer_id']);

-- Payment lines say which invoice a payment pays (overdue receivables).
CREATE TRIGGER metric_dirty_lines_insert AFTER INSERT ON qbo_txn_line REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION metric_mark_dirty_lines('Payment', 'qbo_payment', 'txn_date');
CREATE TRIGGER metric_dirty_lines_delete AFTER DELETE ON qbo_txn_line REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION metric_mark_dirty_lines('Payment', 'qbo_payment', 'txn_date');

-- Overdue receivables read invoices by due date (TxnDate when there is none) and payment lines by the
-- invoice they pay.
CREATE INDEX qbo_invoice_due ON qbo_invoice (connection_id, (coalesce(due_date, txn_date)));
CREATE INDEX qbo_txn_line_paid_invoice ON qbo_txn_line (connection_id, (payload -> 'LinkedTxn' -> 0 ->> 'TxnId'))
    WHERE txn_type = 'Payment';

-- Monthly revenue and expenses from the raw records against QuickBooks' own Profit and Loss (accrual,
-- whole-month columns of whole-company reports; migration 0006): the Income group's total against
-- qbo.net_revenue, COGS + Expenses against qbo.expenses. A month fetched in several report windows is
-- taken from the newest report run.
CREATE VIEW metric_reconciliation AS
WITH summaries AS (
    SELECT DISTINCT ON (w.connection_id, w.period_start, w.row_group)
           w.connection_id, w.period_start AS month, w.row_group, w.value
    FROM qbo_report_row w
    JOIN qbo_report r ON r.connection_id = w.connection_id AND r.id = w.report_id
    WHERE r.deleted_at IS NULL AND coalesce(r.report_filter, '') = ''
      AND w.report = 'ProfitAndLoss' AND w.basis = 'Accrual' AND w.row_kind = 'Summary'
      AND w.row_group IN ('Income', 'COGS', 'Expenses') AND coalesce(w.column_key, '') <> 'total'
      AND w.period_start = date_trunc('month', w.period_start)::date
      AND w.period_end = (date_trunc('month', w.period_start) + interval '1 month - 1 day')::date
    -- The group's own total is its shallowest summary (sub-account totals nest below it).
    ORDER BY w.connection_id, w.period_start, w.row_group, r.updated_at DESC,
             length(coalesce(w.section_path, '')) - length(replace(coalesce(w.section_path, ''), ' > ', ''))
),
reported AS (
    SELECT connection_id, month, CASE row_group WHEN 'Income' THEN 'revenue' ELSE 'expenses' END AS measure,
           sum(value) AS reported
    FROM summaries GROUP BY 1, 2, 3
),
computed AS (
    SELECT connection_id, bucket AS month,
           CASE metric WHEN 'qbo.net_revenue' THEN 'revenue' ELSE 'expenses' END AS measure, value AS computed
    FROM metric_points
    WHERE metric IN ('qbo.net_revenue', 'qbo.expenses') AND grain = 'month' AND dimension = ''
)
SELECT r.connection_id, r.month, (r.month + interval '1 month')::date AS month_end, r.measure,
       coalesce(c.computed, 0) AS computed, r.reported, coalesce(c.computed, 0) - r.reported AS difference
FROM reported r
LEFT JOIN computed c USING (connection_id, month, measure);

-- What the SELECT-only role (core migration 0007) may read of QuickBooks: the reconciliation and the home
-- currency for labels.
GRANT SELECT ON metric_reconciliation TO bizmetrics_reader;
GRANT SELECT (connection_id, home_currency) ON qbo_preferences TO bizmetrics_reader;
