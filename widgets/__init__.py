"""Community widgets for course notebooks and Voila pages.

Each returns an ipywidgets widget that talks to the community service through
:mod:`nbcohort.cohorts.client`; offline or headless, each shows one calm line instead.
"""

from nbcohort.widgets.applied import applied
from nbcohort.widgets.badges import badges
from nbcohort.widgets.charter import charter
from nbcohort.widgets.discussion import discussion
from nbcohort.widgets.moderation import moderation
from nbcohort.widgets.my_calendar import my_calendar
from nbcohort.widgets.my_data import my_data
from nbcohort.widgets.notifications import notifications
from nbcohort.widgets.nudges import nudges
from nbcohort.widgets.onboarding import onboarding
from nbcohort.widgets.peer_review import peer_review
from nbcohort.widgets.pilots import pilots
from nbcohort.widgets.prompt import prompt
from nbcohort.widgets.pulse import pulse
from nbcohort.widgets.search import search
from nbcohort.widgets.share import library, share
from nbcohort.widgets.topics import topics

__all__ = [
    "applied",
    "badges",
    "charter",
    "discussion",
    "library",
    "moderation",
    "my_calendar",
    "my_data",
    "notifications",
    "nudges",
    "onboarding",
    "peer_review",
    "pilots",
    "prompt",
    "pulse",
    "search",
    "share",
    "topics",
]
