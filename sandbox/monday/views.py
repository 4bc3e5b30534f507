"""Objects the simulator computes rather than stores: the Account, URLs and the version entries."""

from __future__ import annotations

from typing import Any

from .model import MondayAccount
from .versions import ApiVersion


def account_view(account: MondayAccount) -> dict[str, Any]:
    return {
        "id": account.id, "name": account.name, "slug": account.slug, "tier": account.tier,
        "plan": {"max_users": max(10, len(account.users)), "period": "yearly", "tier": account.tier, "version": 10},
        "first_day_of_the_week": "monday", "show_timeline_weekends": True, "country_code": "US",
        "active_members_count": sum(1 for u in account.users.values() if u.status == "ACTIVE"),
        "created_at": account.created_at,
        "is_during_trial": False, "is_trial_expired": False, "logo": None, "sign_up_product_kind": "core",
        "products": [],
    }


def version_view(version: ApiVersion) -> dict[str, str]:
    return {"value": version.value, "kind": version.kind, "display_name": version.value}


def base_url(account: MondayAccount) -> str:
    return f"https://{account.slug}.monday.com"
