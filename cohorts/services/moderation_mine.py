"""What a member reads about moderation and themselves: the code of conduct (before they
post), where they stand with the rules for new members, their held posts with the reasons
given, their posts hidden or removed by moderators, and their appeals with the answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.services.appeals import appealable_posts, my_appeals
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.moderation_gate import moderation_rules, standing
from nbcohort.cohorts.services.moderation_hold import my_held
from nbcohort.cohorts.services.rhythm import rhythm_of

__all__ = ["code_of_conduct", "my_moderation"]


def code_of_conduct(cohort: Cohort) -> str:
    """The cohort file's code of conduct as safe HTML ("" when it has none)."""
    spec = rhythm_of(cohort)
    charter = getattr(spec, "charter", None) if spec is not None else None
    text = getattr(charter, "code_of_conduct", "") or ""
    return render_markdown(text) if text.strip() else ""


def my_moderation(session: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
    require(actor, "cohort.read", cohort.id)
    rules = moderation_rules(cohort)
    return {
        "code_of_conduct": code_of_conduct(cohort),
        "rules": {
            "new_days": rules.new_days,
            "new_posts": rules.new_posts,
            "hold_first_posts": rules.hold_first_posts,
            "posts_per_hour": rules.posts_per_hour,
        },
        "standing": standing(session, actor, cohort).as_dict(actor.timezone),
        "held": my_held(session, actor, cohort),
        "appeals": my_appeals(session, actor, cohort),
        "decided": appealable_posts(session, actor, cohort),
    }
