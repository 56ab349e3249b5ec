"""``nbgrader list`` through the service: released assignments (with whether this learner
has fetched them), or submissions (``--inbound``: every learner's, for staff; ``--cached``:
the learner's own), in the shapes nbgrader's default ``ExchangeList`` returns, which its
JupyterLab assignment list reads; ``--cached --remove``: a learner's own submissions leave
their list; ``--remove`` (staff): released assignments are taken back."""

from __future__ import annotations

import os
from typing import Any

from nbgrader.exchange.abc import ExchangeList

from nbcohort.exchange.service_exchange._http import ServiceExchange

__all__ = ["ServiceList"]


class ServiceList(ServiceExchange, ExchangeList):
    def init_src(self) -> None:
        pass

    def init_dest(self) -> None:
        pass

    def copy_files(self) -> None:
        pass

    def _folder(self, assignment: str) -> str:
        cd = self.coursedir
        if self.path_includes_course:
            return os.path.join(self.assignment_dir, cd.course_id, assignment)
        return os.path.join(self.assignment_dir, assignment)

    def _released(self) -> list[dict[str, Any]]:
        out = []
        for rel in self.json("/releases")["releases"]:
            if self.coursedir.assignment_id and rel["assignment"] != self.coursedir.assignment_id:
                continue
            folder = self._folder(rel["assignment"])
            fetched = os.path.exists(folder)
            info: dict[str, Any] = {
                "course_id": self.coursedir.course_id,
                "assignment_id": rel["assignment"],
                "status": "removed" if self.remove else ("fetched" if fetched else "released"),
                "path": os.path.abspath(folder) if fetched else rel["assignment"],
                "notebooks": [
                    {
                        "notebook_id": nb,
                        "path": os.path.abspath(os.path.join(folder, nb + ".ipynb")),
                    }
                    for nb in rel["notebooks"]
                ],
            }
            out.append(info)
        return out

    def _submitted(self) -> list[dict[str, Any]]:
        cd = self.coursedir
        student = self.student_filter()
        subs = self.json("/submissions", assignment=cd.assignment_id, student=student)
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for sub in subs["submissions"]:
            stamp = self.stamp(sub["timestamp"])
            feedback_dir = os.path.join(self._folder(sub["assignment"]), "feedback", stamp)
            local = all(
                os.path.isfile(os.path.join(feedback_dir, nb + ".html")) for nb in sub["notebooks"]
            ) and bool(sub["notebooks"])
            info = {
                "course_id": cd.course_id,
                "student_id": sub["student"],
                "assignment_id": sub["assignment"],
                "timestamp": stamp,
                "status": "submitted",
                "path": f"{sub['id']}",
                "notebooks": [{"notebook_id": nb} for nb in sub["notebooks"]],
                "has_local_feedback": local,
                "has_exchange_feedback": bool(sub["feedback"]),
                "feedback_updated": False,
                "local_feedback_path": feedback_dir if local else None,
            }
            key = (cd.course_id, sub["student"], sub["assignment"])
            groups.setdefault(key, []).append(info)
        return [
            {
                "course_id": key[0],
                "student_id": key[1],
                "assignment_id": key[2],
                "status": "submitted",
                "submissions": items,
            }
            for key, items in sorted(groups.items())
        ]

    def list_files(self) -> list[dict[str, Any]]:
        if not self.coursedir.course_id:  # JupyterLab's assignment list, before a course
            self.coursedir.course_id = self.own_course()
        if self.inbound or self.cached:
            found = self._submitted()
            self.log.info("Submitted assignments:")
            for group in found:
                for info in group["submissions"]:
                    self.log.info(
                        "%s %s %s %s",
                        info["course_id"],
                        info["student_id"],
                        info["assignment_id"],
                        info["timestamp"],
                    )
            return found
        found = self._released()
        self.log.info("Released assignments:")
        for info in found:
            self.log.info("%s %s", info["course_id"], info["assignment_id"])
        return found

    def remove_files(self) -> list[dict[str, Any]]:
        """``nbgrader list --cached --remove``: the learner's own submissions leave their
        list, as nbgrader's default exchange removes the learner's cached record of them;
        staff still list and collect them. ``nbgrader list --remove`` (staff): the released
        assignments listed are taken back, as the default exchange removes their outbound
        copies. Removing learners' submissions (``--inbound``) is not done through the
        service: what a learner handed in stays."""
        if not self.coursedir.course_id:
            self.coursedir.course_id = self.own_course()
        if self.inbound:
            self.fail(
                "removing submissions (--inbound) is not supported by the service exchange: "
                "what a learner handed in stays; a learner removes their own from their list "
                "with: nbgrader list --cached --remove"
            )
        if not self.cached:
            return self._unrelease()
        found = self._submitted()
        self.log.info("Removing submitted assignments:")
        for group in found:
            for info in group["submissions"]:
                self.call("DELETE", f"/submissions/{self.quoted(info['path'])}")
                info["status"] = "removed"
                self.log.info(
                    "%s %s %s %s",
                    info["course_id"],
                    info["student_id"],
                    info["assignment_id"],
                    info["timestamp"],
                )
            group["status"] = "removed"
        return found

    def _unrelease(self) -> list[dict[str, Any]]:
        found = self._released()
        self.log.info("Removing released assignments:")
        for info in found:
            self.call("DELETE", f"/releases/{self.quoted(info['assignment_id'])}")
            self.log.info("%s %s", info["course_id"], info["assignment_id"])
        return found
