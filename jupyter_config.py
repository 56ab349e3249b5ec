"""The one configuration file of an nbcohort course: nbgrader, Jupyter server, Voila, nbcohort.

Every Jupyter application finds this file when its folder is on JUPYTER_CONFIG_PATH (the
README commands and the demo set that; on a hub, copy it into a Jupyter config directory such
as /etc/jupyter). Paths are relative to this file, so the course folder can move.
"""

import os

from nbcohort.cohorts.pages import with_voila_template

here = os.path.dirname(os.path.abspath(__file__))
data_dir = os.environ.get("NBCOHORT_DATA_DIR") or os.path.join(here, ".nbcohort")

# -- nbcohort ---------------------------------------------------------------------------------
c.NbCohort.data_dir = data_dir
c.NbCohort.db_url = os.environ.get("NBCOHORT_DB_URL", "")  # empty: SQLite file in data_dir
c.NbCohort.default_cohort = "demo"
c.ServiceSettings.ip = "127.0.0.1"
c.ServiceSettings.port = int(os.environ.get("NBCOHORT_PORT", "8765"))
c.CommunitySettings.flag_threshold = 3
c.CommunitySettings.max_post_chars = 20_000
c.ClientSettings.timeout = 2.0

# -- nbgrader ---------------------------------------------------------------------------------
c.CourseDirectory.root = os.path.join(here, "course")
c.CourseDirectory.course_id = "pandas-practice"
c.Exchange.root = os.path.join(data_dir, "exchange")
c.Exchange.path_includes_course = True

# -- Jupyter server, JupyterLab and Voila (as the server's extension) -------------------------
c.ServerApp.root_dir = os.path.join(here, "course")
c.VoilaConfiguration.show_tracebacks = False
c.VoilaConfiguration.strip_sources = True
# Voila's "lab" template without its CDN stylesheets, so pages load nothing from outside
# (cohorts/pages/voila/templates/nbcohort/): Voila looks for templates on the Jupyter
# data path only, so the folder holding it goes first on it.
os.environ["JUPYTER_PATH"] = with_voila_template(os.environ.get("JUPYTER_PATH", ""))
c.VoilaConfiguration.template = "nbcohort"
# Voila's front end loads MathJax 2 from cdnjs (page config fullMathjaxUrl, from this setting)
# as it starts; the pages typeset no math, so it loads an empty script from a data: URL (the
# "?config=..." Voila appends is a comment in it). A plain dict, merged with one set above:
# JupyterHub's single-user extension reads it as a dict (not a lazy .update()).
_tornado = c.ServerApp.get("tornado_settings", {})
c.ServerApp.tornado_settings = {**_tornado, "mathjax_url": "data:text/javascript,//"}
