-- legacy: 0004_quickbooks_entities
-- Every QuickBooks entity the plugin syncs: raw JSON plus typed columns; transaction lines in one table.

ALTER TABLE qbo_invoice ADD COLUMN private_note text;
ALTER TABLE qbo_invoice ADD COLUMN voided boolean;

ALTER TABLE qbo_payment ADD COLUMN doc_number text;
ALTER TABLE qbo_payment ADD COLUMN home_total_amt numeric;
ALTER TABLE qbo_payment ADD COLUMN private_note text;
ALTER TABLE qbo_payment ADD COLUMN voided boolean;
ALTER TABLE qbo_payment ADD COLUMN deposit_account_id text;

CREATE TABLE qbo_sales_receipt (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    doc_number    text,
    txn_date      date,
    currency      text,
    exchange_rate numeric,
    total_amt     numeric,
    home_total_amt numeric,
    private_note  text,
    voided        boolean,
    customer_id   text,
    balance       numeric,
    deposit_account_id text,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX qbo_sales_receipt_txn_date ON qbo_sales_receipt (connection_id, txn_date);

CREATE TABLE qbo_credit_memo (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    doc_number    text,
    txn_date      date,
    currency      text,
    exchange_rate numeric,
    total_amt     numeric,
    home_total_amt numeric,
    private_note  text,
    voided        boolean,
    customer_id   text,
    balance       numeric,
    remaining_credit numeric,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX qbo_credit_memo_txn_date ON qbo_credit_memo (connection_id, txn_date);

CREATE TABLE qbo_refund_receipt (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    doc_number    text,
    txn_date      date,
    currency      text,
    exchange_rate numeric,
    total_amt     numeric,
    home_total_amt numeric,
    private_note  text,
    voided        boolean,
    customer_id   text,
    deposit_account_id text,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX qbo_refund_receipt_txn_date ON qbo_refund_receipt (connection_id, txn_date);

CREATE TABLE qbo_estimate (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    doc_number    text,
    txn_date      date,
    currency      text,
    exchange_rate numeric,
    total_amt     numeric,
    home_total_amt numeric,
    private_note  text,
    voided        boolean,
    customer_id   text,
    txn_status    text,
    expiration_date date,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX qbo_estimate_txn_date ON qbo_estimate (connection_id, txn_date);

CREATE TABLE qbo_bill (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    doc_number    text,
    txn_date      date,
    currency      text,
    exchange_rate numeric,
    total_amt     numeric,
    home_total_amt numeric,
    private_note  text,
    voided        boolean,
    vendor_id     text,
    due_date      date,
    balance       numeric,
    ap_account_id text,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX qbo_bill_txn_date ON qbo_bill (connection_id, txn_date);

CREATE TABLE qbo_bill_payment (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    doc_number    text,
    txn_date      date,
    currency      text,
    exchange_rate numeric,
    total_amt     numeric,
    home_total_amt numeric,
    private_note  text,
    voided        boolean,
    vendor_id     text,
    pay_type      text,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX qbo_bill_payment_txn_date ON qbo_bill_payment (connection_id, txn_date);

CREATE TABLE qbo_purchase (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    doc_number    text,
    txn_date      date,
    currency      text,
    exchange_rate numeric,
    total_amt     numeric,
    home_total_amt numeric,
    private_note  text,
    voided        boolean,
    payment_type  text,
    account_id    text,
    entity_id     text,
    entity_type   text,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX qbo_purchase_txn_date ON qbo_purchase (connection_id, txn_date);

CREATE TABLE qbo_vendor_credit (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    doc_number    text,
    txn_date      date,
    currency      text,
    exchange_rate numeric,
    total_amt     numeric,
    home_total_amt numeric,
    private_note  text,
    voided        boolean,
    vendor_id     text,
    balance       numeric,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX qbo_vendor_credit_txn_date ON qbo_vendor_credit (connection_id, txn_date);

CREATE TABLE qbo_deposit (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    doc_number    text,
    txn_date      date,
    currency      text,
    exchange_rate numeric,
    total_amt     numeric,
    home_total_amt numeric,
    private_note  text,
    voided        boolean,
    deposit_account_id text,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX qbo_deposit_txn_date ON qbo_deposit (connection_id, txn_date);

CREATE TABLE qbo_journal_entry (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    doc_number    text,
    txn_date      date,
    currency      text,
    exchange_rate numeric,
    total_amt     numeric,
    home_total_amt numeric,
    private_note  text,
    voided        boolean,
    adjustment    boolean,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX qbo_journal_entry_txn_date ON qbo_journal_entry (connection_id, txn_date);

ALTER TABLE qbo_customer ADD COLUMN parent_id text;
ALTER TABLE qbo_customer ADD COLUMN is_job boolean;

CREATE TABLE qbo_vendor (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    active        boolean,
    display_name  text,
    company_name  text,
    email         text,
    balance       numeric,
    currency      text,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE qbo_employee (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    active        boolean,
    display_name  text,
    hired_date    date,
    released_date date,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE qbo_item (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    active        boolean,
    name          text,
    fully_qualified_name text,
    parent_id     text,
    type          text,
    sku           text,
    unit_price    numeric,
    purchase_cost numeric,
    income_account_id text,
    expense_account_id text,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE qbo_account (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    active        boolean,
    name          text,
    fully_qualified_name text,
    parent_id     text,
    account_type  text,
    account_sub_type text,
    classification text,
    current_balance numeric,
    currency      text,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE qbo_class (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    active        boolean,
    name          text,
    fully_qualified_name text,
    parent_id     text,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE qbo_department (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    active        boolean,
    name          text,
    fully_qualified_name text,
    parent_id     text,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE qbo_term (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    active        boolean,
    name          text,
    due_days      integer,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE qbo_payment_method (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    active        boolean,
    name          text,
    type          text,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE qbo_tax_code (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    active        boolean,
    name          text,
    taxable       boolean,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE qbo_tax_rate (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    active        boolean,
    name          text,
    rate_value    numeric,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE qbo_company_info (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    company_name  text,
    legal_name    text,
    country       text,
    fiscal_year_start_month text,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE qbo_preferences (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    sync_token    integer,
    home_currency text,
    multi_currency_enabled boolean,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE qbo_exchange_rate (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    source_currency text,
    target_currency text,
    rate          numeric,
    as_of_date    date,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

-- Lines of every transaction, replaced whenever their transaction's version changes.
CREATE TABLE qbo_txn_line (
    connection_id text NOT NULL,
    txn_type      text NOT NULL,
    txn_id        text NOT NULL,
    line_id       text NOT NULL,
    line_num      integer,
    detail_type   text,
    description   text,
    amount        numeric,
    item_id       text,
    account_id    text,
    class_id      text,
    qty           numeric,
    unit_price    numeric,
    tax_code      text,
    posting_type  text,
    payload       jsonb NOT NULL,
    PRIMARY KEY (connection_id, txn_type, txn_id, line_id)
);
CREATE INDEX qbo_txn_line_item ON qbo_txn_line (connection_id, item_id);
CREATE INDEX qbo_txn_line_account ON qbo_txn_line (connection_id, account_id);
