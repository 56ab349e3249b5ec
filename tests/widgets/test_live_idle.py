"""A kernel whose front end went away stops watching: in a real kernel (jupyter_client, as
JupyterLab's server starts one) against the real service, a discussion whose view a front end
rendered (the ``comm_msg`` JupyterLab sends) keeps the kernel's watcher polling; when the front
end goes away without a word (a closed browser never lowers ``_view_count``), the watcher
pauses after ``LiveSettings.idle_minutes`` and says so on the widget; a view rendered again or a
cell the reader runs starts it again, and the thread is live again."""

from __future__ import annotations

import ast
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from nbcohort.cohorts.client import CohortClient
from nbcohort.widgets._live import PAUSED

ANCHOR = "module-1/reading-files"
IDLE_MINUTES = 0.04  # 2.4 s


@pytest.fixture(scope="module")
def kernel(module_world, tmp_path_factory) -> Iterator[BlockingKernelClient]:
    """Ana's kernel, with the community's address and her token in its environment and an
    idle limit of a few seconds in its ``jupyter_config.py``."""
    config = tmp_path_factory.mktemp("idle-config")
    (config / "jupyter_config.py").write_text(f"c.LiveSettings.idle_minutes = {IDLE_MINUTES}\n")
    env = dict(os.environ, NBCOHORT_URL=module_world.service.url,
               NBCOHORT_TOKEN=module_world.tokens["ana"],
               JUPYTER_CONFIG_PATH=str(config))  # fmt: skip
    env.pop("NBGRADER_EXECUTION", None)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=90)
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _reply(kc: BlockingKernelClient, msg_id: str) -> dict[str, Any]:
    while True:
        msg = kc.get_shell_msg(timeout=30)
        if msg["parent_header"].get("msg_id") == msg_id:
            content = msg["content"]
            assert content["status"] == "ok", content
            return content


def run(kc: BlockingKernelClient, code: str) -> None:
    """A cell the reader runs (not silent: IPython's ``pre_run_cell`` fires)."""
    _reply(kc, kc.execute(code, silent=False, store_history=True))


def value(kc: BlockingKernelClient, expression: str) -> Any:
    """What ``expression`` is in the kernel, read silently as a tool would (not a sign of
    life)."""
    msg_id = kc.execute("", silent=True, user_expressions={"x": expression})
    found = _reply(kc, msg_id)["user_expressions"]["x"]
    assert found["status"] == "ok", found
    return ast.literal_eval(found["data"]["text/plain"])


def views(kc: BlockingKernelClient, comm_id: str, count: int) -> None:
    """What a front end sends when it renders (or removes) a widget's view."""
    data = {"method": "update", "state": {"_view_count": count}, "buffer_paths": []}
    kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data}))


def eventually(check: Callable[[], bool], seconds: float) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.1)
    return time.monotonic() - start


def test_a_front_end_that_went_away_pauses_the_watcher_and_a_sign_of_life_resumes_it(
    kernel, module_world
):
    run(kernel, "from nbcohort.widgets import discussion\nfrom nbcohort.widgets._live import "
                f"watcher\nd = discussion({ANCHOR!r}, expanded=True)\nd")  # fmt: skip
    comm = value(kernel, "d.model_id")
    assert value(kernel, "watcher().running") is False  # no view yet: nothing watches
    views(kernel, comm, 1)  # JupyterLab rendered the cell's output
    eventually(lambda: value(kernel, "watcher().running and watcher().requests >= 1"), 15)

    # The browser closes: no message at all, the view count stays 1.
    paused_after = eventually(lambda: not value(kernel, "watcher().running"), 20)
    assert value(kernel, "d._view_count") == 1
    assert value(kernel, "watcher().paused") is True
    assert PAUSED in value(kernel, "d.live_line.value")  # said on the widget, calmly
    sent = value(kernel, "watcher().requests")
    assert paused_after < IDLE_MINUTES * 60 + 5, paused_after  # a watch waits no longer

    # The notebook opened again: a front end renders a second view. Live again.
    views(kernel, comm, 2)
    eventually(lambda: value(kernel, "watcher().running"), 10)
    version = value(kernel, "d.version")
    ben = CohortClient(module_world.service.url, module_world.tokens["ben"], timeout=10)
    ben.post(ANCHOR, "posted while the reader was back")
    eventually(lambda: value(kernel, "d.version") > version, 10)
    assert value(kernel, "watcher().requests") > sent
    assert value(kernel, "d.live_line.value") == ""  # the paused line went

    # Idle again, then the reader runs a cell: that resumes it too, and the cell is quick.
    eventually(lambda: value(kernel, "watcher().paused"), 20)
    started = time.monotonic()
    run(kernel, "x = 1 + 1")
    assert time.monotonic() - started < 2.0  # a timestamp, never a wait on the service
    eventually(lambda: value(kernel, "watcher().running"), 10)
    eventually(lambda: value(kernel, "d.live_line.value") == "", 10)


def test_a_silent_execution_is_no_sign_of_life(kernel):
    """What tools run silently (a variable inspector, this test's reads) never keeps a watcher
    of a gone front end alive: it pauses although the kernel is asked every 0.1 s."""
    run(kernel, "import ipywidgets\nb = ipywidgets.Button()")  # clicked in the next test
    run(kernel, "d2 = discussion('module-1/selecting-rows')\nd2")
    views(kernel, value(kernel, "d2.model_id"), 1)
    eventually(lambda: value(kernel, "watcher().running"), 10)
    eventually(lambda: value(kernel, "watcher().paused"), 20)


def test_a_click_on_any_widget_resumes_a_paused_watcher(kernel):
    """A reader who only clicks (a reaction, a button) is there: the click's message resumes
    the watcher, with no cell run."""
    assert value(kernel, "watcher().paused") is True
    click = {"method": "custom", "content": {"event": "click"}}
    comm = value(kernel, "b.model_id")
    kernel.shell_channel.send(kernel.session.msg("comm_msg", {"comm_id": comm, "data": click}))
    eventually(lambda: value(kernel, "watcher().running"), 10)
    eventually(lambda: value(kernel, "watcher().paused"), 20)  # and idle again after


def test_an_onboarding_shown_alone_asks_the_service_nothing(kernel):
    """onboarding() follows what the other widgets watch and watches nothing itself: shown
    alone, the watcher holds it (for the charter's acknowledgement) without any request."""
    run(
        kernel,
        "d.close(); d2.close()\nfrom nbcohort.widgets import onboarding\no = onboarding()\no",
    )
    assert value(kernel, "type(o).__name__") == "Onboarding"
    sent = value(kernel, "watcher().requests")
    views(kernel, value(kernel, "o.model_id"), 1)
    eventually(lambda: value(kernel, "watcher().running"), 10)
    eventually(lambda: value(kernel, "watcher().paused"), 20)
    assert value(kernel, "watcher().requests") == sent
