"""Sub-orchestrations: explicit and generated instance ids, nesting, parent links."""

from __future__ import annotations

import re

from azure.durable_functions.models.history import HistoryEventType as T


def test_three_levels_of_sub_orchestrations_with_explicit_and_generated_ids(host):
    root = host.start_new("nested", "root", {"depth": 3})
    status = host.run_until_complete(root, timeout=10)
    assert status["runtimeStatus"] == "Completed"
    chain = status["output"]
    assert chain[0] == "root" and chain[-1] == 2 and len(chain) == 5
    level1, level2, level3 = chain[1:4]
    # Depth 3 lets the runtime name its child: "<parent execution id>:<sequence id>", as DTFx does.
    assert re.fullmatch(r"[0-9a-f]{32}:0", level1)
    assert level2 == f"{level1}.child"  # depth 2 named its child explicitly
    assert re.fullmatch(r"[0-9a-f]{32}:0", level3)
    statuses = {s["instanceId"]: s for s in host.list_instances()}
    assert all(statuses[i]["runtimeStatus"] == "Completed" for i in chain[:4])
    created = next(e for e in host.history("root") if e["EventType"] == T.SUB_ORCHESTRATION_INSTANCE_CREATED)
    assert created["InstanceId"] == level1 and created["EventId"] == 0


def test_a_child_sees_its_parent_and_the_parent_gets_its_result(host):
    import uuid

    parent = host.start_new("sub_retry", "parent-1", {"key": uuid.uuid4().hex, "fail_times": 0})
    status = host.run_until_complete(parent, timeout=10)
    assert status["output"]["parent"] == "parent-1"
    child = host.get_status("parent-1-child")
    assert child["runtimeStatus"] == "Completed" and child["output"] == status["output"]
