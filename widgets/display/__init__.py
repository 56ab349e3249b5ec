"""What the pages show, as HTML and SVG, from what the service answered: ``sections`` (the
cohort activity page), ``community_sections`` (the community-of-practice page), ``leader``
(the one-pager), ``charts`` (Vega-Lite specs drawn as SVG, and their tables), ``tables``
(HTML and CSV).

Pure functions of the client's answers, owned by the widgets, so the dependencies point one
way: the page widgets use them, and so does the static export (``cohorts/pages/export.py``,
the CLI's, which sits above the widgets like the rest of the CLI wiring). Nothing here reads
the services layer or the store.
"""
