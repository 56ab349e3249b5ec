"""The API's routes, one module per part of the community. Each handler parses its input
(``inputs.py``), calls one function of the services layer in one unit of work and answers;
the request path itself is ``handler.py``."""

from __future__ import annotations

from tornado.web import RequestHandler

from nbcohort.cohorts.api.routes import (
    charter,
    community_shared,
    discussion,
    events,
    ideas,
    library,
    live,
    members,
    metrics,
    moderation,
    notifications,
    nudges,
    peer_review,
    privacy,
    prompts,
    pulse,
    recognition,
    search,
    threads,
    unsubscribe,
)
from nbcohort.cohorts.api.routes import community as community_routes
from nbcohort.cohorts.api.routes import exchange as exchange_routes

__all__ = ["PAGES", "ROUTES"]

ROUTES: list[tuple[str, type[RequestHandler]]] = [
    *members.ROUTES,
    *discussion.ROUTES,
    *prompts.ROUTES,
    *library.ROUTES,
    *notifications.ROUTES,
    *peer_review.ROUTES,
    *charter.ROUTES,
    *events.ROUTES,
    *search.ROUTES,
    *metrics.ROUTES,
    *live.ROUTES,
    *threads.ROUTES,
    *recognition.ROUTES,
    *privacy.ROUTES,
    *pulse.ROUTES,
    *moderation.ROUTES,
    *community_routes.ROUTES,
    *ideas.ROUTES,
    *nudges.ROUTES,
    *exchange_routes.ROUTES,
    *community_shared.ROUTES,
]
# Pages a person opens from an email, outside the JSON API: HTML, no API token.
PAGES: list[tuple[str, type[RequestHandler]]] = [*unsubscribe.ROUTES]
