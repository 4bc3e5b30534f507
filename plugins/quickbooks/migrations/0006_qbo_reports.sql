-- legacy: 0006_qbo_reports
-- QuickBooks reports for reconciliation (Profit and Loss by month, Balance Sheet; accrual and cash).
-- qbo_report keeps each fetched report whole (payload), one per (report, basis, window); its flattened
-- rows (one per report row and column) live in qbo_report_row and are replaced whenever a newer run of
-- the same report arrives (updated_at is the report's Header.Time), so rows a newer run no longer has
-- do not linger.

CREATE TABLE qbo_report (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    report        text NOT NULL,
    basis         text,
    window_start  date,
    window_end    date,
    report_filter text,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE qbo_report_row (
    connection_id text NOT NULL,
    report_id     text NOT NULL,
    position      integer NOT NULL,
    column_index  integer NOT NULL,
    report        text NOT NULL,
    basis         text,
    period_start  date,
    period_end    date,
    column_key    text,
    column_title  text,
    section_path  text,
    row_kind      text NOT NULL,
    row_group     text,
    label         text,
    account_id    text,
    account_name  text,
    value         numeric,
    text          text,
    PRIMARY KEY (connection_id, report_id, position, column_index)
);
CREATE INDEX qbo_report_row_period ON qbo_report_row (connection_id, report, basis, period_start);
