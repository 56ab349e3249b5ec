"""nbgrader's exchange through the nbcohort service: no shared folder (#18 part 3).

Turn it on in ``jupyter_config.py``::

    c.ExchangeFactory.exchange = "nbcohort.exchange.service_exchange.ServiceExchange"
    c.ExchangeFactory.fetch_assignment = "nbcohort.exchange.service_exchange.ServiceFetchAssignment"
    ...  (README: "The exchange as a service")
"""

from nbcohort.exchange.service_exchange._http import ServiceExchange
from nbcohort.exchange.service_exchange.instructor import (
    ServiceCollect,
    ServiceReleaseAssignment,
    ServiceReleaseFeedback,
)
from nbcohort.exchange.service_exchange.learner import (
    ServiceFetchAssignment,
    ServiceFetchFeedback,
    ServiceSubmit,
)
from nbcohort.exchange.service_exchange.listing import ServiceList

__all__ = [
    "FACTORY",
    "ServiceCollect",
    "ServiceExchange",
    "ServiceFetchAssignment",
    "ServiceFetchFeedback",
    "ServiceList",
    "ServiceReleaseAssignment",
    "ServiceReleaseFeedback",
    "ServiceSubmit",
]

_HERE = "nbcohort.exchange.service_exchange."
# c.ExchangeFactory.<name> = <class>: every class nbgrader's apps ask the factory for.
FACTORY = {
    "exchange": _HERE + "ServiceExchange",
    "fetch_assignment": _HERE + "ServiceFetchAssignment",
    "fetch_feedback": _HERE + "ServiceFetchFeedback",
    "release_assignment": _HERE + "ServiceReleaseAssignment",
    "release_feedback": _HERE + "ServiceReleaseFeedback",
    "list": _HERE + "ServiceList",
    "submit": _HERE + "ServiceSubmit",
    "collect": _HERE + "ServiceCollect",
}
