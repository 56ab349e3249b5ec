"""The author's side of a review round: the result and the reviews of their work (with a
helpfulness rating per review), and publishing the reviewed notebook to the library."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection
from nbcohort.widgets._style import button, status

__all__ = ["AuthorView", "PublishForm", "ReviewCard"]


def _titles(rubric: list[dict[str, Any]]) -> dict[str, str]:
    return {str(c["id"]): str(c.get("title", c["id"])) for c in rubric}


def _scores_line(scores: dict[str, Any], titles: dict[str, str]) -> str:
    order = [cid for cid in titles if cid in scores] + [c for c in scores if c not in titles]
    return " · ".join(
        f"{html.escape(titles.get(cid, cid))} <b>{float(scores[cid]):g}</b>" for cid in order
    )


class ReviewCard(w.VBox):
    """One review of the author's work: the service's sanitized HTML (the only member text
    shown, and never rendered any other way) and "How helpful was this review?" from 1 to 5."""

    def __init__(
        self, conn: Connection, assignment: str, review: dict[str, Any], titles: dict[str, str]
    ) -> None:
        self.conn, self.assignment, self.review = conn, assignment, review
        comments = "".join(
            f'<div class="nbc-meta">{html.escape(titles.get(cid, cid))}</div>{text}'
            for cid, text in review.get("comments_html", {}).items()
        )
        overall = review.get("overall_html") or ""
        overall = f'<div class="nbc-meta">Overall</div>{overall}' if overall else ""
        self.body = w.HTML(
            f'<div class="nbc-card"><div class="nbc-meta"><b>{html.escape(review["reviewer"])}'
            f"</b> · {_scores_line(review.get('scores', {}), titles)}</div>"
            f"{comments}{overall}</div>"
        )
        self.rating = w.ToggleButtons(
            options=[(str(n), n) for n in range(1, 6)],
            value=review.get("helpfulness"),
            description="How helpful was this review?",
            tooltips=["not helpful", "a little", "somewhat", "helpful", "very helpful"],
            style={"description_width": "initial", "button_width": "2.5em"},
        )
        self.rating.observe(self._rated, names="value")
        self.status = w.HTML()
        super().__init__([self.body, self.rating, self.status])

    def _rated(self, change: dict[str, Any]) -> None:
        if change["new"] is not None and change["new"] != self.review.get("helpfulness"):
            self.rate(int(change["new"]))

    def rate(self, helpfulness: int) -> bool:
        try:
            done = self.conn.client.rate_review(self.assignment, self.review["id"], helpfulness)
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            self.rating.value = self.review.get("helpfulness")  # show what is stored
            return False
        self.review = {**self.review, "helpfulness": done["helpfulness"]}
        self.status.value = status("thanks: your rating helps reviewers improve", ok=True)
        return True


class AuthorView(w.VBox):
    """What the author may see of their own submission's reviews, as the service decides."""

    def __init__(self, conn: Connection, assignment: str) -> None:
        self.conn, self.assignment = conn, assignment
        self.summary = w.HTML()
        self.cards: list[ReviewCard] = []
        super().__init__([self.summary])

    def show(self, own: dict[str, Any] | None, rubric: list[dict[str, Any]]) -> None:
        head = '<div class="nbc-head">Your work</div>'
        self.cards = []
        if own is None:
            self.summary.value = (
                f'{head}<div class="nbc-meta">You have no submission in this round.</div>'
            )
        elif not own.get("visible"):
            reason = html.escape(own.get("reason", ""))
            self.summary.value = f'{head}<div class="nbc-meta">{reason}</div>'
        else:
            titles = _titles(rubric)
            self.summary.value = head + _result_html(own, titles)
            self.cards = [ReviewCard(self.conn, self.assignment, r, titles) for r in own["reviews"]]
        self.children = [self.summary, *self.cards]


def _result_html(own: dict[str, Any], titles: dict[str, str]) -> str:
    result = own.get("result") or {}
    scores = result.get("scores", {})
    parts = [
        f'<div class="nbc-card"><b>Result: {float(result.get("total", 0)):g} of '
        f"{float(result.get('max_total', 0)):g}</b>"
        f'<div class="nbc-meta">{_scores_line(scores, titles)}</div>'
    ]
    if result.get("short"):
        parts.append(
            f'<div class="nbc-meta">Based on {int(result.get("reviews", 0))} reviews, '
            "fewer than planned.</div>"
        )
    if result.get("explanation"):
        parts.append(f"<div>{html.escape(str(result['explanation']))}</div>")
    override = own.get("override")
    if override and override.get("scores"):
        final = {**scores, **override["scores"]}
        parts.append(
            f'<div class="nbc-status">Instructor\'s score: '
            f"{_scores_line(override['scores'], titles)} · reason: "
            f"{html.escape(str(override.get('reason', '')))}</div>"
            f"<div><b>Final: {sum(float(v) for v in final.values()):g} of "
            f"{float(result.get('max_total', 0)):g}</b></div>"
        )
    n = len(own.get("reviews", []))
    parts.append(f'<div class="nbc-meta">{n} review{"s" if n != 1 else ""} of your work</div>')
    return "".join(parts) + "</div>"


class PublishForm(w.VBox):
    """After the round: publish the reviewed notebook to the library, only with consent."""

    def __init__(self, conn: Connection, assignment: str) -> None:
        self.conn, self.assignment = conn, assignment
        licenses = conn.me.get("rules", {}).get("licenses") or []
        self.consent = w.Checkbox(
            value=False,
            description="I agree to publish my reviewed notebook, with the reviews' scores, "
            "to the cohort's library",
            indent=False,
            layout=w.Layout(width="100%"),
        )
        self.title = w.Text(description="Title", placeholder=f"My {assignment}")
        self.description = w.Textarea(
            description="What is it?", layout=w.Layout(width="100%", height="56px")
        )
        self.license = w.Dropdown(
            description="License", options=licenses, value=licenses[0] if licenses else None
        )
        self.go = button("Publish to the library", kind="primary")
        self.go.on_click(lambda _b: self.publish())
        self.status = w.HTML()
        super().__init__(
            [
                w.HTML('<div class="nbc-head">Publish to the library</div>'),
                self.consent,
                self.title,
                self.description,
                self.license,
                self.go,
                self.status,
            ]
        )

    def publish(self) -> dict[str, Any] | None:
        try:
            made = self.conn.client.publish_reviewed(
                self.assignment,
                consent=self.consent.value,
                title=self.title.value,
                description=self.description.value,
                license=self.license.value,
            )
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return None
        self.go.disabled = True
        self.status.value = status(
            f"published as artifact {made['artifact_id']}: thank you for sharing!", ok=True
        )
        return made
