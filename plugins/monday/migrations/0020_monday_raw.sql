-- legacy: 0020_monday_raw
-- monday.com raw records: the full source JSON (payload) plus typed columns, as plugins/monday/tables.py loads
-- them. Every table has the loader's common columns; deleted_at marks a tombstone (an item in state "deleted",
-- the items of a board deleted since they were read, or a row a complete read no longer found) and keeps the
-- last known payload. Boards and workspaces monday still answers in state "deleted" stay rows with that state.
--
-- Workspaces, boards, groups, columns, users, teams and tags have no version in monday that covers everything
-- their row holds: their rows are rewritten only when their content changes, and updated_at is when the sync
-- observed them (a board's own updated_at is board_updated_at). Groups and columns are keyed by
-- "<board id>:<group or column id>" (their own ids repeat across boards).

CREATE TABLE monday_workspace (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    name          text,
    kind          text,
    state         text,
    is_default    boolean,
    description   text,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE monday_board (
    connection_id     text NOT NULL,
    id                text NOT NULL,
    created_at        timestamptz,
    updated_at        timestamptz NOT NULL,
    deleted_at        timestamptz,
    name              text,
    state             text,          -- active / archived / deleted
    board_kind        text,          -- public / private / share
    board_type        text,          -- board / sub_items_board / ...
    workspace_id      text,
    folder_id         text,
    permissions       text,
    items_count       integer,
    creator_id        text,
    owner_ids         text[],
    top_group_id      text,
    subitems_board_id text,          -- the board holding this board's subitems
    description       text,
    board_updated_at  timestamptz,   -- monday's updated_at of the board
    payload           jsonb NOT NULL,
    run_id            text NOT NULL,
    loaded_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE monday_group (
    connection_id text NOT NULL,
    id            text NOT NULL,     -- <board id>:<group id>
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    board_id      text,
    group_id      text,
    title         text,
    color         text,
    position      text,
    archived      boolean,
    deleted       boolean,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX monday_group_board ON monday_group (connection_id, board_id);

CREATE TABLE monday_column (
    connection_id text NOT NULL,
    id            text NOT NULL,     -- <board id>:<column id>
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    board_id      text,
    column_id     text,
    title         text,
    type          text,
    description   text,
    archived      boolean,
    width         integer,
    position      integer,           -- order on the board
    settings      jsonb,             -- labels, done_colors, linked boards...
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX monday_column_board ON monday_column (connection_id, board_id);

-- Items and subitems (parent_item_id set) alike. is_done / done_at come from the board's main status column:
-- a "Done" label or one of its done colours; done_at is when that status was set (the value's changed_at).
CREATE TABLE monday_item (
    connection_id    text NOT NULL,
    id               text NOT NULL,
    created_at       timestamptz,
    updated_at       timestamptz NOT NULL,
    deleted_at       timestamptz,
    board_id         text,
    group_id         text,
    group_title      text,
    parent_item_id   text,
    name             text,
    state            text,           -- active / archived / deleted
    creator_id       text,
    status_column_id text,
    status_label     text,
    status_index     integer,
    is_done          boolean,
    done_at          timestamptz,
    payload          jsonb NOT NULL,
    run_id           text NOT NULL,
    loaded_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX monday_item_board ON monday_item (connection_id, board_id);
CREATE INDEX monday_item_parent ON monday_item (connection_id, parent_item_id) WHERE parent_item_id IS NOT NULL;
CREATE INDEX monday_item_created ON monday_item (connection_id, created_at);
CREATE INDEX monday_item_done ON monday_item (connection_id, done_at) WHERE is_done;

-- Column values of an item's current version, replaced whenever the item changes (kept on its tombstone).
CREATE TABLE monday_column_value (
    connection_id   text NOT NULL,
    item_id         text NOT NULL,
    column_id       text NOT NULL,
    type            text,
    text            text,
    value           jsonb,           -- monday's `value` JSON, parsed
    label           text,            -- status
    label_index     integer,
    is_done         boolean,
    date_value      date,            -- date
    time_value      text,
    number          numeric,         -- numbers
    person_ids      text[],          -- people
    team_ids        text[],
    timeline_from   date,            -- timeline
    timeline_to     date,
    checked         boolean,         -- checkbox
    display_value   text,            -- mirror, board relation, dependency, subtasks (their `text` is empty)
    linked_item_ids text[],
    changed_at      timestamptz,
    PRIMARY KEY (connection_id, item_id, column_id)
);

CREATE TABLE monday_user (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    name          text,
    email         text,
    title         text,
    enabled       boolean,
    is_admin      boolean,
    is_guest      boolean,
    is_pending    boolean,
    time_zone     text,
    country_code  text,
    team_ids      text[],
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE monday_team (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    name          text,
    is_guest      boolean,
    user_ids      text[],
    owner_ids     text[],
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE monday_tag (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    name          text,
    color         text,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);

CREATE TABLE monday_update (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    item_id       text,
    creator_id    text,
    text_body     text,
    edited_at     timestamptz,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX monday_update_item ON monday_update (connection_id, item_id);

-- A log entry never changes: updated_at = created_at (decoded from monday's 17-digit 100 ns count).
-- to_done: for a change of the board's main status column, whether it set a done label (else NULL).
CREATE TABLE monday_activity_log (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    board_id      text,
    item_id       text,
    event         text,
    entity        text,
    user_id       text,
    column_id     text,
    data          jsonb,
    to_done       boolean,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX monday_activity_log_item ON monday_activity_log (connection_id, item_id, created_at);

-- When each done item was completed: the latest activity-log entry that set its main status to a done label
-- when the log has it, else the status value's own changed_at. Items completed and cycle time read this.
CREATE VIEW monday_item_completion AS
SELECT i.connection_id, i.id AS item_id, i.board_id, i.parent_item_id, i.created_at,
       coalesce(l.done_at, i.done_at) AS done_at,
       coalesce(l.done_at, i.done_at) - i.created_at AS cycle_time
FROM monday_item i
LEFT JOIN LATERAL (
    SELECT max(a.created_at) AS done_at
    FROM monday_activity_log a
    WHERE a.connection_id = i.connection_id AND a.item_id = i.id AND a.to_done AND a.deleted_at IS NULL
) l ON true
WHERE i.is_done AND i.deleted_at IS NULL;

-- API calls per monday account and UTC day (monday caps calls per day, reset 00:00 UTC, failed calls
-- included). Every worker reserves a call here before sending it (plugins/monday/usage.py); the monthly
-- count per connection stays in api_usage as for every plugin.
CREATE TABLE monday_api_calls_daily (
    account_key text NOT NULL,       -- the connection's account_id setting, else its connection id
    day         date NOT NULL,
    calls       integer NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_key, day)
);
