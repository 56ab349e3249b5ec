"""A ``cadence tick`` that stops inside its first publishing transaction, says so, and waits
to be killed: ``python -m tests.helpers.tick_killer DB_URL NOW`` (the simulation SIGKILLs it
halfway through its work, with the item flipped and its post written but not committed)."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Any

from nbcohort.cohorts.models import clock_at
from nbcohort.cohorts.services import cadence_tick
from nbcohort.cohorts.store import Store


def main() -> None:
    url, now = sys.argv[1], datetime.fromisoformat(sys.argv[2])
    real = cadence_tick.publish_item

    def stuck(session: Any, *args: Any, **kwargs: Any) -> Any:
        state = real(session, *args, **kwargs)
        session.flush()  # everything written, nothing committed
        print(f"inside {state}", flush=True)
        time.sleep(120)
        return state

    cadence_tick.publish_item = stuck  # type: ignore[assignment]
    store = Store.open(url)
    with clock_at(now):
        cadence_tick.run_tick(store, None, now=now)


if __name__ == "__main__":
    main()
