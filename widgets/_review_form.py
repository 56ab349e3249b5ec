"""The rubric form of one review packet: a level and a comment per criterion, an overall
comment, Save draft and Submit. The service decides what is valid; the form shows why not."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection
from nbcohort.widgets._style import button, status, when

__all__ = ["CriterionField", "ReviewForm"]

_WIDE = w.Layout(width="100%", height="60px")


def _points(value: float) -> str:
    return f"{value:g}"


class CriterionField(w.VBox):
    """One rubric criterion: its text, a level per button (descriptor as tooltip and shown
    once chosen), a comment box, and where the service's complaint about it appears."""

    def __init__(self, criterion: dict[str, Any], *, comment_required: bool) -> None:
        self.criterion = criterion
        self.cid = str(criterion["id"])
        levels = criterion.get("levels", [])
        self._descriptors = {float(lv["points"]): str(lv.get("descriptor", "")) for lv in levels}
        described = html.escape(str(criterion.get("description", "")))
        self.heading = w.HTML(
            f'<div class="nbc-head">{html.escape(str(criterion.get("title", self.cid)))}</div>'
            f'<div class="nbc-meta">{described}</div>'
        )
        options = [
            (f"{_points(lv['points'])} · {lv['title']}", float(lv["points"])) for lv in levels
        ]
        self.level = w.ToggleButtons(
            options=options,
            tooltips=[str(lv.get("descriptor", "")) for lv in levels],
            value=None,
            style={"button_width": "auto"},
        )
        self.descriptor = w.HTML()
        self.level.observe(lambda _c: self._describe(), names="value")
        hint = "required" if comment_required else "optional"
        self.comment = w.Textarea(
            placeholder=f"What works, what would make it stronger ({hint})", layout=_WIDE
        )
        self.compare = w.HTML()
        self.error = w.HTML()
        super().__init__(
            [self.heading, self.level, self.descriptor, self.comment, self.compare, self.error]
        )

    def _describe(self) -> None:
        text = self._descriptors.get(self.level.value) if self.level.value is not None else ""
        self.descriptor.value = f'<div class="nbc-meta">{html.escape(text)}</div>' if text else ""

    def load(self, score: float | None, comment: str) -> None:
        self.level.value = float(score) if score is not None else None
        self.comment.value = comment or ""

    def set_enabled(self, enabled: bool) -> None:
        self.level.disabled = self.comment.disabled = not enabled


class ReviewForm(w.VBox):
    """The form for one allocation; ``saved`` is called after the service accepted a save."""

    def __init__(
        self,
        conn: Connection,
        assignment: str,
        item: dict[str, Any],
        rubric: list[dict[str, Any]],
        *,
        required_comments: bool,
        saved: Callable[[], None] | None = None,
    ) -> None:
        self.conn, self.assignment, self.item = conn, assignment, item
        self._saved = saved
        calibration = item["kind"] == "calibration"
        self.fields = [
            CriterionField(c, comment_required=required_comments and not calibration)
            for c in rubric
        ]
        self.overall = w.Textarea(placeholder="Overall comment (optional)", layout=_WIDE)
        self.save_button = button("Save draft", "keep your work; only you see a draft")
        self.submit_button = button("Submit", "submit this review", kind="primary")
        self.save_button.on_click(lambda _b: self.save(submit=False))
        self.submit_button.on_click(lambda _b: self.save(submit=True))
        self.status = w.HTML()
        self.note = w.HTML()
        super().__init__(
            [
                *self.fields,
                self.overall,
                w.HBox([self.save_button, self.submit_button]),
                self.status,
                self.note,
            ]
        )
        self.load(item)

    def load(self, item: dict[str, Any]) -> None:
        """Show the stored review of ``item`` (the inbox's view of it) and its state."""
        self.item = item
        review = item["review"]
        for f in self.fields:
            f.load(review["scores"].get(f.cid), review["comments"].get(f.cid, ""))
            f.error.value = ""
        self.overall.value = review.get("overall_comment", "")
        self._state(review)
        self.show_known(item.get("known_scores"), review["scores"])

    def sync(self, item: dict[str, Any]) -> None:
        """Take the service's state of ``item`` (editable, submitted, calibration scores)
        without touching what the reviewer is typing."""
        self.item = item
        self._state(item["review"])
        self.show_known(item.get("known_scores"), item["review"]["scores"])

    def _state(self, review: dict[str, Any]) -> None:
        submitted = review.get("draft") is False
        editable = bool(review.get("editable"))
        for f in self.fields:
            f.set_enabled(editable)
        self.overall.disabled = not editable
        self.save_button.disabled = self.submit_button.disabled = not editable
        # A submitted review is edited by submitting again; it never goes back to a draft.
        self.save_button.layout.display = "none" if submitted else None
        self.submit_button.description = "Update review" if submitted else "Submit"
        if not editable:
            self.note.value = (
                '<div class="nbc-meta">This review can no longer be changed '
                "(the due date has passed or the round has closed).</div>"
            )
        elif submitted:
            due = when(self.item.get("due_at"))
            until = f" until {due}" if due else ""
            self.note.value = (
                f'<div class="nbc-meta">Submitted. You can still edit it{until}.</div>'
            )
        else:
            self.note.value = ""

    def payload(self) -> dict[str, Any]:
        return {
            "scores": {f.cid: f.level.value for f in self.fields if f.level.value is not None},
            "comments": {f.cid: f.comment.value for f in self.fields if f.comment.value.strip()},
            "overall_comment": self.overall.value,
        }

    def save(self, *, submit: bool) -> dict[str, Any] | None:
        """Save a draft or submit; a refusal is shown next to the form, never raised."""
        for f in self.fields:
            f.error.value = ""
        data = self.payload()
        try:
            review = self.conn.client.save_review(
                self.assignment,
                self.item["allocation_id"],
                data["scores"],
                data["comments"],
                data["overall_comment"],
                submit=submit,
            )
        except ClientError as exc:
            message = exc.message or "community offline: nothing was saved"
            self.status.value = status(message)
            self._mark(exc.field, message)
            return None
        self.item = {**self.item, "review": review}
        self._state(review)
        self.status.value = status("submitted: thank you!" if submit else "draft saved", ok=True)
        if self._saved is not None:
            self._saved()
        return review

    def _mark(self, field: str | None, message: str) -> None:
        """Put the service's complaint beside the criterion it names (``scores.<id>``)."""
        cid = field.split(".", 1)[1] if field and "." in field else None
        for f in self.fields:
            if f.cid == cid:
                f.error.value = status(message)

    def show_known(self, known: dict[str, float] | None, mine: dict[str, float]) -> None:
        """After a calibration item is submitted: the instructor's scores beside yours."""
        for f in self.fields:
            if not known or f.cid not in known:
                f.compare.value = ""
                continue
            yours = mine.get(f.cid)
            theirs = float(known[f.cid])
            same = yours is not None and float(yours) == theirs
            css = "nbc-ok" if same else "nbc-meta"
            f.compare.value = (
                f'<div class="{css}">Your score {_points(yours) if yours is not None else "—"}'
                f" · instructor's score {_points(theirs)}</div>"
            )
