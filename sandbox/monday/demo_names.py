"""Vocabulary for the demo account, so that generated boards and items read like real ones."""

from __future__ import annotations

GIVEN_NAMES = (
    "Amy", "Bill", "Grace", "Diego", "Dylan", "Sasha", "Amelia", "Geeta", "Lisa", "Jeff", "Kathy", "Mark",
    "Nick", "Pam", "Priya", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Victor", "Yusuf", "Zoe", "Kenji",
)
FAMILY_NAMES = (
    "Lauterbach", "Lucchini", "Pariente", "Rodriguez", "Freeman", "Chin", "Johnson", "Paulsen", "Cho",
    "Seitz", "Wu", "Alvarez", "Baker", "Dubois", "Eriksen", "Fischer", "Haddad", "Ito", "Jensen", "Okafor",
)
TITLES = ("Project Manager", "Designer", "Engineer", "Account Executive", "Marketing Lead", "Ops Analyst")
TEAM_NAMES = ("Growth", "Platform", "Customer Success", "Design", "Finance", "Field Sales")
TAG_NAMES = (("urgent", "#e2445c"), ("q3", "#579bfc"), ("customer", "#00c875"), ("internal", "#a25ddc"),
             ("blocked", "#fdab3d"), ("launch", "#037f4c"), ("legal", "#784bd1"), ("infra", "#66ccff"))
WORKSPACE_NAMES = ("Main workspace", "Marketing", "Engineering", "Sales", "Operations", "People")
BOARD_NAMES = ("Product Roadmap", "Client Projects", "Marketing Campaigns", "Sprint Board", "Sales Pipeline",
               "Hiring Plan", "Content Calendar", "IT Requests", "Event Planning", "Vendor Onboarding")
ITEM_VERBS = ("Draft", "Review", "Ship", "Plan", "Design", "Test", "Migrate", "Audit", "Launch", "Update",
              "Prepare", "Publish", "Negotiate", "Document", "Refactor", "Schedule")
ITEM_OBJECTS = ("pricing page", "Q3 report", "onboarding flow", "partner contract", "billing export",
                "newsletter", "webinar", "customer survey", "release notes", "SSO setup", "mobile app",
                "data warehouse", "support macros", "holiday campaign", "security review", "API docs")
SUBITEM_NAMES = ("Collect input", "First draft", "Sign-off", "QA pass", "Follow up", "Hand over")
NOTES = ("waiting on legal", "needs design", "see thread", "owner on leave", "budget approved", "")
UPDATE_TEXTS = ("Kick-off done, next step is the draft.", "Moved the deadline by a week.",
                "Client confirmed the scope.", "Blocked until the vendor answers.", "Done, please review.")
