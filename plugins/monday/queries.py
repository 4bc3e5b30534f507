"""Every GraphQL document the monday plugin sends, in one place, so a test can validate each one against the
SDL of every API version the plugin accepts (2026-07 and 2026-10; the SDLs are in sandbox/monday/sdl).

Each document asks for `complexity`, which is how the budget governor learns what a query cost and how much
of the minute's budget is left. Documents take variables only: nothing is pasted into the query text.
"""

from __future__ import annotations

COMPLEXITY = "complexity { before query after reset_in_x_seconds }"

# Typed fragments give the values monday leaves out of `text` (mirror, connect boards, dependency) and the
# parts a metric needs without parsing `value` (status label, dates, numbers, people, timeline, checkbox).
ITEM_FIELDS = """
fragment ItemFields on Item {
  id name state created_at updated_at creator_id
  board { id }
  group { id title }
  parent_item { id }
  column_values(ids: $columns) {
    id type text value
    ... on StatusValue { index label is_done updated_at }
    ... on DateValue { date time }
    ... on NumbersValue { number }
    ... on PeopleValue { persons_and_teams { id kind } }
    ... on TimelineValue { from to }
    ... on CheckboxValue { checked }
    ... on MirrorValue { display_value }
    ... on BoardRelationValue { display_value linked_item_ids }
    ... on DependencyValue { display_value linked_item_ids }
  }
}
"""

LOG_FIELDS = "id event entity data created_at user_id account_id"

# The first page of a board's items, with the first page of its activity log in the same call: a quiet
# board costs one call per run.
ITEMS_FIRST_PAGE = f"""
query ItemsFirstPage($board: [ID!], $limit: Int!, $query: ItemsQuery, $columns: [String!],
                     $logLimit: Int, $logsFrom: ISO8601DateTime, $withLogs: Boolean!) {{
  {COMPLEXITY}
  boards(ids: $board, state: all) {{
    id state
    items_page(limit: $limit, query_params: $query) {{ cursor items {{ ...ItemFields }} }}
    activity_logs(limit: $logLimit, page: 1, from: $logsFrom) @include(if: $withLogs) {{ {LOG_FIELDS} }}
  }}
}}
{ITEM_FIELDS}"""

ITEMS_NEXT_PAGE = f"""
query ItemsNextPage($cursor: String!, $limit: Int!, $columns: [String!]) {{
  {COMPLEXITY}
  next_items_page(cursor: $cursor, limit: $limit) {{ cursor items {{ ...ItemFields }} }}
}}
{ITEM_FIELDS}"""

# items(ids:) answers archived and deleted items too (with their state); at most 100 ids, and `limit`
# defaults to 25, so it is always given.
ITEMS_BY_ID = f"""
query ItemsById($ids: [ID!], $limit: Int, $columns: [String!]) {{
  {COMPLEXITY}
  items(ids: $ids, limit: $limit) {{ ...ItemFields }}
}}
{ITEM_FIELDS}"""

ACTIVITY_LOGS = f"""
query ActivityLogs($board: [ID!], $limit: Int, $page: Int, $from: ISO8601DateTime) {{
  {COMPLEXITY}
  boards(ids: $board, state: all) {{ id activity_logs(limit: $limit, page: $page, from: $from) {{ {LOG_FIELDS} }} }}
}}"""

BOARDS = f"""
query Boards($ids: [ID!], $limit: Int, $page: Int) {{
  {COMPLEXITY}
  version {{ value kind }}
  boards(ids: $ids, state: all, limit: $limit, page: $page) {{
    id name description state board_kind type workspace_id permissions items_count
    created_at updated_at board_folder_id item_terminology
    creator {{ id }} owners {{ id }} top_group {{ id }}
    groups {{ id title color position archived deleted }}
    columns {{ id title type description archived width settings }}
  }}
}}"""

# The User shape of 2026-07 and later (2026-10 removed enabled, is_admin, is_guest, is_pending, join_date ...).
USER_FIELDS = """id name email title created_at time_zone_identifier country_code location teams { id }
    status kind is_deleted became_active_at invitation_method"""

# users() answers only ACTIVE and PENDING users unless asked (2026-07+), and `non_active: true` only inactive
# ones: every status is asked for in one list, so each user (deleted ones are INACTIVE) comes exactly once, and
# people who left still name their items. Oldest first, so users added during a run land on later pages.
DIRECTORY = f"""
query Directory($limit: Int, $page: Int, $workspaces: Boolean!, $users: Boolean!, $first: Boolean!) {{
  {COMPLEXITY}
  workspaces(state: all, limit: $limit, page: $page) @include(if: $workspaces) {{
    id name kind description state created_at is_default_workspace
  }}
  users(status: [ACTIVE, PENDING, INACTIVE], sort: [{{field: CREATED_AT, direction: ASC}}], limit: $limit,
        page: $page) @include(if: $users) {{ {USER_FIELDS} }}
  teams @include(if: $first) {{ id name picture_url is_guest owners {{ id }} users {{ id }} }}
  tags @include(if: $first) {{ id name color }}
}}"""

UPDATES = f"""
query Updates($limit: Int, $page: Int, $from: String, $to: String) {{
  {COMPLEXITY}
  updates(limit: $limit, page: $page, from_date: $from, to_date: $to) {{
    id item_id creator_id body text_body created_at updated_at edited_at original_creation_date
  }}
}}"""

DOCUMENTS: dict[str, str] = {
    "ItemsFirstPage": ITEMS_FIRST_PAGE,
    "ItemsNextPage": ITEMS_NEXT_PAGE,
    "ItemsById": ITEMS_BY_ID,
    "ActivityLogs": ACTIVITY_LOGS,
    "Boards": BOARDS,
    "Directory": DIRECTORY,
    "Updates": UPDATES,
}
