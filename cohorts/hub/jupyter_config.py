"""The kit's one jupyter_config.py for a hub (hub identity): read by the community service
the hub starts and by every single-user server (JUPYTER_CONFIG_PATH, jupyterhub_config.py).

Only what differs from the course's own jupyter_config.py is here: merge these lines into it.
"""

import os

c = get_config()  # type: ignore[name-defined]
port = int(os.environ.get("NBCOHORT_PORT", "8765"))

# The service: who a token belongs to is the hub's answer (HubAuth), not a token nbcohort minted.
c.ServiceSettings.auth = "hub"
c.ServiceSettings.ip = "127.0.0.1"
c.ServiceSettings.port = port
c.ServiceSettings.auth_cache_seconds = 10.0  # a revoked hub token is refused within this time
# A shared database every service process (and replica) uses; SQLite for one machine only.
c.NbCohort.db_url = os.environ.get("NBCOHORT_DB_URL", "")
# Hub groups that confirm roster roles (the roster decides; the group must agree).
c.HubSettings.role_groups = {
    "nbcohort-instructors": "instructor",
    "nbcohort-facilitators": "facilitator",
    # "nbcohort-champions": "champion",
    # "nbcohort-alumni": "alumni",
}

# Kernels: the service, under the prefix the hub's proxy keeps. Kernels send their user's own
# JUPYTERHUB_API_TOKEN (server_token_scopes in jupyterhub_config.py grants it the service).
c.ClientSettings.url = f"http://127.0.0.1:{port}/services/nbcohort"

# nbgrader's exchange through the service, with no shared folder (README: "The exchange as a
# service"): release, fetch, submit, list, collect and feedback go over HTTP with the same
# identity as the widgets. The course id (c.CourseDirectory.course_id) is the cohort's slug.
_exchange = "nbcohort.exchange.service_exchange."
c.ExchangeFactory.exchange = _exchange + "ServiceExchange"
c.ExchangeFactory.fetch_assignment = _exchange + "ServiceFetchAssignment"
c.ExchangeFactory.fetch_feedback = _exchange + "ServiceFetchFeedback"
c.ExchangeFactory.release_assignment = _exchange + "ServiceReleaseAssignment"
c.ExchangeFactory.release_feedback = _exchange + "ServiceReleaseFeedback"
c.ExchangeFactory.list = _exchange + "ServiceList"
c.ExchangeFactory.submit = _exchange + "ServiceSubmit"
c.ExchangeFactory.collect = _exchange + "ServiceCollect"
c.ExchangeSettings.max_upload_bytes = 100 * 1024 * 1024  # larger uploads: 413 before reading
