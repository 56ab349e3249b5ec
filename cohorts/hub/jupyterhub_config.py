"""An example JupyterHub configuration with nbcohort's community service as a hub service.

Hub identity (``c.ServiceSettings.auth = "hub"``): the service asks the hub who each token
belongs to, and every learner's kernel calls it with the user's own JUPYTERHUB_API_TOKEN,
so nobody mints or places a token. Copy this file and ``jupyter_config.py`` beside it, then

    jupyterhub -f jupyterhub_config.py

Users are matched to the roster by username: import the cohort's roster with the hub's
usernames. Hub groups confirm staff roles (c.HubSettings.role_groups in jupyter_config.py):
put the instructors in the hub group ``nbcohort-instructors`` and the facilitators in
``nbcohort-facilitators``, e.g. through the admin page or ``c.JupyterHub.load_groups`` below.
"""

import os
import sys

c = get_config()  # type: ignore[name-defined]  # noqa: F821

here = os.path.dirname(os.path.abspath(__file__))
# The kit's one jupyter_config.py, read by the service and by every single-user server.
config_dir = os.environ.get("NBCOHORT_CONFIG_DIR", here)
service_port = int(os.environ.get("NBCOHORT_PORT", "8765"))

# -- the community service --------------------------------------------------------------------
# Hub-managed: the hub starts it and gives it JUPYTERHUB_API_URL, JUPYTERHUB_API_TOKEN,
# JUPYTERHUB_SERVICE_NAME and JUPYTERHUB_SERVICE_PREFIX (/services/nbcohort/, which the proxy
# keeps in the path and the service serves under).
c.JupyterHub.services = [
    {
        "name": "nbcohort",
        "url": f"http://127.0.0.1:{service_port}",
        "command": [sys.executable, "-m", "nbcohort.cohorts.cli", "serve"],
        "environment": {"JUPYTER_CONFIG_PATH": config_dir, "NBCOHORT_PORT": str(service_port)},
        "display": False,  # an API, not a page for the hub's home
    },
]
# External instead (its own host or pod): run `nbcohort serve` there with JUPYTERHUB_API_URL
# (this hub's API, e.g. http://hub:8081/hub/api) and JUPYTERHUB_API_TOKEN set to the same
# secret as api_token here, and replace the entry above with:
#   {"name": "nbcohort", "url": "http://nbcohort:8765",
#    "api_token": os.environ["NBCOHORT_HUB_TOKEN"]}

# -- roles and scopes ---------------------------------------------------------------------------
c.JupyterHub.load_roles = [
    # Every user may call the service (and so may the tokens their servers get, below). The
    # service needs no role of its own: the hub tells it a token's user and groups.
    {"name": "user", "scopes": ["self", "access:services!service=nbcohort"]},
]
# JUPYTERHUB_API_TOKEN of each single-user server (and so of its kernels): the server role's
# scopes plus access to the community service; nothing more.
c.Spawner.server_token_scopes = [
    "users:activity!user",
    "access:servers!server",
    "access:services!service=nbcohort",
]
c.JupyterHub.load_groups = {
    "nbcohort-instructors": {"users": []},
    "nbcohort-facilitators": {"users": []},
}

# -- single-user servers ----------------------------------------------------------------------
# They read the kit's jupyter_config.py (the client finds the service there: ClientSettings.url).
c.Spawner.environment = {"JUPYTER_CONFIG_PATH": config_dir}
c.Spawner.default_url = "/lab"
