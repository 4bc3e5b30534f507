-- legacy: 0002_quickbooks_raw
-- QuickBooks Online raw records: the full source JSON (payload) plus typed columns.
-- deleted_at marks a tombstone; the last known payload is kept beside it.

CREATE TABLE qbo_customer (
    connection_id text NOT NULL,
    id            text NOT NULL,
    sync_token    integer,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    display_name  text,
    company_name  text,
    active        boolean,
    balance       numeric,
    currency      text,
    email         text,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE qbo_invoice (
    connection_id  text NOT NULL,
    id             text NOT NULL,
    sync_token     integer,
    created_at     timestamptz,
    updated_at     timestamptz NOT NULL,
    deleted_at     timestamptz,
    doc_number     text,
    txn_date       date,
    due_date       date,
    customer_id    text,
    total_amt      numeric,
    balance        numeric,
    currency       text,
    exchange_rate  numeric,
    home_total_amt numeric,
    payload        jsonb NOT NULL,
    run_id         text NOT NULL,
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX qbo_invoice_txn_date ON qbo_invoice (connection_id, txn_date);

CREATE TABLE qbo_payment (
    connection_id  text NOT NULL,
    id             text NOT NULL,
    sync_token     integer,
    created_at     timestamptz,
    updated_at     timestamptz NOT NULL,
    deleted_at     timestamptz,
    txn_date       date,
    customer_id    text,
    total_amt      numeric,
    unapplied_amt  numeric,
    currency       text,
    exchange_rate  numeric,
    payload        jsonb NOT NULL,
    run_id         text NOT NULL,
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX qbo_payment_txn_date ON qbo_payment (connection_id, txn_date);
