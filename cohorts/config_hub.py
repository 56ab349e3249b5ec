"""Settings of hub identity (``c.ServiceSettings.auth = "hub"``): which hub to ask, under
which service name, and which hub groups confirm which roles.

A hub-managed service gets its hub's address, its own token and its name from the hub
(``JUPYTERHUB_API_URL``, ``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_SERVICE_NAME``,
``JUPYTERHUB_SERVICE_PREFIX``); an external service is given them here or in the same
environment variables.
"""

from __future__ import annotations

import os
from typing import Any

from traitlets import Dict, TraitError, Unicode, default, validate
from traitlets.config import Configurable

__all__ = ["COHORT_HEADER", "HubSettings"]

# Names the cohort a request is for: a hub user on several rosters sends it (ClientSettings.cohort).
COHORT_HEADER = "X-Nbcohort-Cohort"


class HubSettings(Configurable):
    """Hub identity: the hub the service asks who a token belongs to (auth = 'hub')."""

    api_url = Unicode(
        help="The hub's REST API, e.g. http://127.0.0.1:8081/hub/api. Empty means the "
        "JUPYTERHUB_API_URL environment variable (set by the hub for a hub-managed service).",
    ).tag(config=True)

    @default("api_url")
    def _default_api_url(self) -> str:
        return os.environ.get("JUPYTERHUB_API_URL", "")

    api_token = Unicode(
        help="The service's own hub token (the api_token of its entry in c.JupyterHub.services). "
        "Empty means JUPYTERHUB_API_TOKEN; prefer the environment to writing a secret into a "
        "config file.",
    ).tag(config=True)

    @default("api_token")
    def _default_api_token(self) -> str:
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    service_name = Unicode(
        help="The service's name in c.JupyterHub.services. A token is accepted only if the "
        "hub gives it access:services!service=<this name>. Empty means "
        "JUPYTERHUB_SERVICE_NAME, or 'nbcohort'.",
    ).tag(config=True)

    @default("service_name")
    def _default_service_name(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_NAME", "") or "nbcohort"

    prefix = Unicode(
        help="Path the service's routes are served under, as the hub's proxy forwards them "
        "(it keeps the prefix): /services/<service_name>/. Empty means "
        "JUPYTERHUB_SERVICE_PREFIX, or /services/<service_name>/. Clients then use "
        "ClientSettings.url = <service address>/services/<service_name>.",
    ).tag(config=True)

    @default("prefix")
    def _default_prefix(self) -> str:
        found = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "")
        return found or f"/services/{self.service_name}/"

    role_groups = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        default_value={
            "nbcohort-instructors": "instructor",
            "nbcohort-facilitators": "facilitator",
        },
        help="Hub group -> the role it confirms. The roster decides a member's role; a role "
        "named here is held only by hub users who are also in one of its groups (a roster "
        "instructor outside every instructor group is refused, naming the group), so neither "
        "a roster entry alone nor a hub group alone makes anyone staff. Roles not named here "
        "need no group. Add e.g. 'nbcohort-champions': 'champion', 'nbcohort-alumni': "
        "'alumni'. A role that does not exist stops the service at start-up.",
    ).tag(config=True)

    @validate("role_groups")
    def _check_roles(self, proposal: dict[str, Any]) -> dict[str, str]:
        from nbcohort.cohorts.config import ROLES  # config.py imports this module

        value: dict[str, str] = proposal["value"]
        for group, role in value.items():
            if role not in ROLES:
                raise TraitError(
                    f"c.HubSettings.role_groups: hub group {group!r} names role {role!r}, "
                    f"which does not exist (roles: {', '.join(ROLES)})"
                )
        return value

    def groups_for(self, role: str) -> frozenset[str]:
        """The hub groups that confirm ``role`` (empty: the role needs no group)."""
        return frozenset(g for g, r in self.role_groups.items() if r == role)

    def access_scope(self) -> str:
        """The scope a token needs to reach this service."""
        return f"access:services!service={self.service_name}"
