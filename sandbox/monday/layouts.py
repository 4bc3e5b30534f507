"""Board layouts: the columns and groups of demo boards, subitem boards and boards made by `create_board`.

Column ids follow monday's conventions ("status", "date4", "person", new-style "text_mk..." ids);
`settings` mirror what `settings_str` returns on real boards of each type.
"""

from __future__ import annotations

from .model import Column, Group

STATUS_LABELS = {"0": "Working on it", "1": "Done", "2": "Stuck", "3": "Waiting", "5": ""}
STATUS_COLORS = {
    "0": {"color": "#fdab3d", "border": "#e99729", "var_name": "orange"},
    "1": {"color": "#00c875", "border": "#00b461", "var_name": "green-shadow"},
    "2": {"color": "#df2f4a", "border": "#ce3048", "var_name": "red-shadow"},
    "3": {"color": "#579bfc", "border": "#4387e8", "var_name": "bright-blue"},
    "5": {"color": "#c4c4c4", "border": "#b0b0b0", "var_name": "grey"},
}
DONE_INDEX = 1
GROUP_COLORS = ("#579bfc", "#00c875", "#fdab3d", "#e2445c", "#a25ddc", "#037f4c")
GROUP_TITLES = ("This sprint", "Next up", "Backlog", "Done this quarter", "Ideas", "On hold")


def status_column(column_id: str = "status", title: str = "Status") -> Column:
    return Column(column_id, title, "status", {"labels": dict(STATUS_LABELS), "labels_colors": dict(STATUS_COLORS),
                                               "done_colors": [DONE_INDEX]})


def name_column() -> Column:
    return Column("name", "Name", "name", {})


def subitems_column(subitems_board_id: str) -> Column:
    return Column("subitems", "Subitems", "subtasks", {
        "allowMultipleItems": True, "itemTypeName": "column.subtasks.title", "displayType": "BOARD_INLINE",
        "boardIds": [int(subitems_board_id)]})


def main_board_columns(suffix: str, own_board_id: str, linked_board_id: str | None,
                       subitems_board_id: str | None) -> list[Column]:
    """Every column type a sync has to map, on one board; `suffix` makes new-style ids unique per board."""
    columns = [name_column()]
    if subitems_board_id is not None:
        columns.append(subitems_column(subitems_board_id))
    columns += [
        Column("person", "Owner", "people", {}),
        status_column(),
        Column("date4", "Due date", "date", {"hide_footer": False}),
        Column("timeline", "Timeline", "timeline", {}),
        Column("numbers", "Budget", "numbers", {"unit": {"symbol": "$", "custom_unit": "", "direction": "left"}}),
        Column("checkbox", "Approved", "checkbox", {}),
        Column(f"text_{suffix}", "Notes", "text", {}),
        Column(f"long_text_{suffix}", "Description", "long_text", {}),
        Column("dependency", "Dependent on", "dependency",
               {"boardIds": [int(own_board_id)], "dependencyNewInfra": True}),
    ]
    if linked_board_id is not None:
        relation_id = f"board_relation_{suffix}"
        columns += [
            Column(relation_id, "Related work", "board_relation", {"allowCreateReflectionColumn": False,
                                                                    "boardIds": [int(linked_board_id)]}),
            Column(f"lookup_{suffix}", "Related status", "mirror", {
                "relation_column": {relation_id: True},
                "displayed_linked_columns": {linked_board_id: ["status"]}}),
        ]
    return columns


def subitem_board_columns() -> list[Column]:
    return [name_column(), Column("person", "Owner", "people", {}), status_column(),
            Column("date0", "Date", "date", {"hide_footer": False}),
            Column("numbers", "Hours", "numbers", {"unit": {"symbol": "", "custom_unit": "h", "direction": "right"}})]


def default_group() -> Group:
    # What a board made through the API starts with (the cassettes then read one item, "Task 1").
    return Group("topics", "Group Title", GROUP_COLORS[0], "65536")


def subitem_group() -> Group:
    return Group("topics", "Subitems", GROUP_COLORS[0], "65536")
