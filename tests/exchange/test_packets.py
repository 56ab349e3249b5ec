"""Review packets: every anonymisation rule on small handmade notebooks, the real project
notebook after nbgrader-style edits, bad input named by file, and all-or-nothing writes."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from nbcohort.exchange import packets
from nbcohort.exchange.packets import (
    Identity,
    Mention,
    PackedSubmission,
    PacketError,
    anonymize_notebook,
    pack_submission,
    write_packets,
)
from tests.helpers.processes import REPO

ANA = Identity("asouza", "Ana Souza", "ana.souza@example.org", aliases=("student-17",))
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4).decode()


def nb_bytes(*cells: nbformat.NotebookNode, metadata: dict | None = None) -> bytes:
    nb = new_notebook(cells=list(cells), metadata=metadata or {})
    return nbformat.writes(nb).encode()


def anonymized(raw: bytes, identity: Identity = ANA, **kw) -> tuple[dict, list, list]:
    data, mentions, notes = anonymize_notebook(raw, identity, filename="p.ipynb", **kw)
    return json.loads(data), mentions, notes


def text_of(node: dict | list | str) -> str:
    return json.dumps(node, ensure_ascii=False)


def source(cell: dict) -> str:
    return "".join(cell["source"])


# --- nbgrader's header and metadata ---------------------------------------------------------


def test_header_cell_values_are_blanked_and_nothing_else():
    header = new_code_cell(
        'NAME = "Ana Souza"\nCOLLABORATORS = \'Ben Okafor, Mei Chen\'\nFIRST_NAME = "keep"'
    )
    triple = new_code_cell('COLLABORATORS = """Ben\nMei"""\nx = 1')
    empty = new_code_cell('NAME = ""\nCOLLABORATORS = ""')
    md = new_markdown_cell('NAME = "Ana Souza"')  # not code: reported, not edited
    nb, mentions, notes = anonymized(nb_bytes(header, triple, empty, md))
    assert source(nb["cells"][0]) == 'NAME = ""\nCOLLABORATORS = ""\nFIRST_NAME = "keep"'
    assert source(nb["cells"][1]) == 'COLLABORATORS = ""\nx = 1'
    assert source(nb["cells"][2]) == 'NAME = ""\nCOLLABORATORS = ""'
    assert source(nb["cells"][3]) == 'NAME = "Ana Souza"'
    assert [(m.cell, m.kind) for m in mentions] == [(3, "name")]
    assert notes == [
        "p.ipynb cell 0: NAME/COLLABORATORS blanked",
        "p.ipynb cell 1: NAME/COLLABORATORS blanked",
    ]


def test_notebook_metadata_keeps_only_kernelspec_and_language_info():
    meta = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "version": "3.11.7"},
        "authors": [{"name": "Ana Souza"}],
        "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}},
        "jupyterhub_user": "asouza",
    }
    nb, _, _ = anonymized(nb_bytes(new_code_cell("1"), metadata=meta))
    assert nb["metadata"] == {k: meta[k] for k in ("kernelspec", "language_info")}


def test_cell_metadata_keeps_nbgrader_tags_and_view_state_only():
    kept = {
        "nbgrader": {
            "grade": False,
            "grade_id": "a1",
            "locked": False,
            "schema_version": 3,
            "solution": True,
            "task": False,
        },
        "tags": ["answer"],
        "collapsed": True,
        "scrolled": False,
        "jupyter": {"source_hidden": True},
    }
    dropped = {
        "execution": {"iopub.status.busy": "2026-11-01T10:00:00.000Z"},
        "ExecuteTime": {"end_time": "2026-11-01T10:00:01"},
        "author": "asouza",
    }
    cell = new_code_cell("x = 1", metadata={**kept, **dropped})
    nb, _, _ = anonymized(nb_bytes(cell, new_markdown_cell("hi", metadata={"editor": "ana"})))
    assert nb["cells"][0]["metadata"] == kept
    assert nb["cells"][1]["metadata"] == {}


def test_cell_ids_released_ones_kept_others_replaced_by_position():
    cells = [new_markdown_cell("intro"), new_code_cell("x = 1"), new_code_cell("y = 2")]
    cells[0].id, cells[1].id, cells[2].id = "p1-01", "3f9a1c2e-learner", "cell-0"
    nb, _, _ = anonymized(nb_bytes(*cells), keep_cell_ids={"p1-01", "cell-0"})
    assert [c["id"] for c in nb["cells"]] == ["p1-01", "cell-1", "cell-0"]
    nb, _, _ = anonymized(nb_bytes(*cells))  # no release: every id by position
    ids = [c["id"] for c in nb["cells"]]
    assert ids == ["cell-0", "cell-1", "cell-2"]
    # a released id reused by a generated one gets a unique suffix
    cells[2].id = "learner-x"
    nb, _, _ = anonymized(nb_bytes(*cells), keep_cell_ids={"cell-1"})
    ids = [c["id"] for c in nb["cells"]]
    assert len(set(ids)) == 3
    assert "3f9a1c2e-learner" not in ids
    assert "learner-x" not in ids


def test_notebook_without_ids_stays_nbformat_4_4():
    nb = new_notebook(cells=[new_code_cell("x = 1")])
    nb.nbformat_minor = 4
    del nb.cells[0]["id"]
    out, _, _ = anonymized(nbformat.writes(nb).encode())
    assert out["nbformat_minor"] == 4
    assert "id" not in out["cells"][0]


# --- outputs --------------------------------------------------------------------------------


def test_outputs_lose_names_emails_handles_and_home_paths():
    outputs = [
        new_output(
            "stream",
            name="stdout",
            text=(
                "Ana Souza <ana.souza@example.org> in /home/asouza/project/data.csv\n"
                "student-17 also wrote /home/bob/shared.csv and /Users/ana/x.csv\n"
                "temp: /tmp/jupyter-asouza-3/kernel.json and /tmp/keep/other.json\n"
            ),
        ),
        new_output(
            "execute_result",
            execution_count=1,
            data={
                "text/plain": "'C:\\\\Users\\\\asouza\\\\data.csv'  ASOUZA  souza, ana",
                "text/html": "<td>Ana Souza</td><td>D:\\Users\\Ana\\x</td>",
                "text/markdown": "by **ana souza**",
                "application/json": {"asouza": {"path": "/home/asouza"}},
                "image/png": PNG,
            },
            metadata={"image/png": {"alt": "chart by Ana Souza"}},
        ),
        new_output(
            "error",
            ename="FileNotFoundError",
            evalue="/home/asouza/missing.csv",
            traceback=["\x1b[0;31mFile /home/asouza/x.py:3\x1b[0m", "asouza's code"],
        ),
    ]
    nb, mentions, _ = anonymized(nb_bytes(new_code_cell("run()", outputs=outputs)))
    outs = nb["cells"][0]["outputs"]
    stream = "".join(outs[0]["text"])
    assert stream == (
        "author <author@example.invalid> in ~/project/data.csv\n"
        "author also wrote ~/shared.csv and ~/x.csv\n"
        "temp: /tmp/jupyter-author-3/kernel.json and /tmp/keep/other.json\n"
    )
    data = outs[1]["data"]
    assert "".join(data["text/plain"]) == "'~\\\\data.csv'  author  author"
    assert "".join(data["text/html"]) == "<td>author</td><td>~\\x</td>"
    assert "".join(data["text/markdown"]) == "by **author**"
    assert data["application/json"] == {"author": {"path": "~"}}
    assert data["image/png"].replace("\n", "") == PNG  # binary data is left alone
    assert outs[1]["metadata"] == {"image/png": {"alt": "chart by author"}}
    assert outs[2]["evalue"] == "~/missing.csv"
    assert outs[2]["traceback"] == ["\x1b[0;31mFile ~/x.py:3\x1b[0m", "author's code"]
    assert mentions == []  # outputs are edited, never reported


def test_short_username_matches_whole_words_only():
    al = Identity("al", "Al Berg")
    out = new_output("stream", name="stdout", text="total: 3, al wrote it, AL again, et al.\n")
    cell = new_code_cell("total = subtotal + 1  # al", outputs=[out])
    nb, mentions, _ = anonymized(nb_bytes(cell), al)
    assert "".join(nb["cells"][0]["outputs"][0]["text"]) == (
        "total: 3, author wrote it, author again, et author.\n"
    )
    assert [(m.kind, m.snippet) for m in mentions] == [("username", "total = subtotal + 1 # al")]


# --- sources: reported, not edited ----------------------------------------------------------


def test_source_mentions_are_reported_with_file_cell_kind_snippet():
    ana = Identity("asouza", "Ana Maria Souza", "ana.souza@example.org")
    cells = [
        new_markdown_cell("An analysis by Ana Maria Souza."),
        new_markdown_cell("Ask ANA SOUZA or mail Ana.Souza@example.org"),
        new_code_cell("df = load('/home/asouza/data.csv')  # Souza, Ana"),
        new_raw_cell("Ana and Souza are common words here; banana, Anastasia."),
        new_code_cell("x = 1", metadata={"tags": ["by-asouza"]}),
    ]
    raw = nb_bytes(*cells)
    nb, mentions, _ = anonymized(raw, ana)
    assert [source(c) for c in nb["cells"]] == [c.source for c in cells]  # unedited
    assert [(m.file, m.cell, m.kind) for m in mentions] == [
        ("p.ipynb", 0, "name"),
        ("p.ipynb", 1, "name"),
        ("p.ipynb", 1, "email"),
        ("p.ipynb", 2, "username"),
        ("p.ipynb", 2, "name"),
        ("p.ipynb", 4, "username"),
    ]
    assert mentions[0].snippet == "An analysis by Ana Maria Souza."
    assert mentions[2].snippet == "Ask ANA SOUZA or mail Ana.Souza@example.org"
    assert all(len(m.snippet) <= 30 * 2 + 40 for m in mentions)


def test_name_spelled_without_accents_or_decomposed_is_found():
    tomas = Identity("tdiaz", "Tomás Díaz")
    cells = [new_markdown_cell("by Tomas Diaz"), new_markdown_cell("by Toma\u0301s Di\u0301az")]
    _, mentions, _ = anonymized(nb_bytes(*cells), tomas)
    assert [(m.cell, m.kind) for m in mentions] == [(0, "name"), (1, "name")]


# --- huge outputs and packet size -----------------------------------------------------------


def test_huge_output_is_replaced_by_a_note():
    big = new_output("stream", name="stdout", text="x" * 5000)
    small = new_output("stream", name="stdout", text="ok\n")
    nb, _, notes = anonymized(
        nb_bytes(new_code_cell("print()", outputs=[big, small])), max_output_bytes=2000
    )
    outs = nb["cells"][0]["outputs"]
    assert outs[0] == {
        "output_type": "display_data",
        "data": {"text/plain": "[output removed from the packet: 5.1 kB]"},
        "metadata": {},
    }
    assert outs[1]["text"] == "ok\n"
    assert notes == ["p.ipynb cell 0: output removed (5.1 kB > 2.0 kB)"]


def test_packet_over_the_limit_names_the_biggest_files(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "p.ipynb").write_bytes(nb_bytes(new_code_cell("1")))
    (sub / "big.bin").write_bytes(b"\0" * 30_000)
    (sub / "mid.csv").write_bytes(b"a\n" * 6000)
    with pytest.raises(PacketError) as info:
        pack_submission(sub, ANA, max_packet_bytes=20_000)
    msg = str(info.value)
    assert str(sub) in msg
    assert "over the 20.0 kB limit" in msg
    assert "big.bin (30.0 kB), mid.csv (12.0 kB), p.ipynb" in msg


# --- files of a submission ------------------------------------------------------------------


def make_submission(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_files_identical_to_the_release_and_nbgrader_leftovers_are_left_out(tmp_path):
    nb = nb_bytes(new_code_cell("1"))
    release = make_submission(
        tmp_path / "release",
        {
            "p.ipynb": nb,
            "data/a.csv": b"x,y\n1,2\n",
            "data/b.csv": b"x\n1\n",
        },
    )
    sub = make_submission(
        tmp_path / "sub",
        {
            "p.ipynb": nb,  # untouched notebook: still what the reviewer must see
            "data/a.csv": b"x,y\n1,2\n",  # same as released: left out
            "data/b.csv": b"x\n2\n",  # edited: copied
            "extra/notes.txt": b"my notes\n",
            "timestamp.txt": b"2026-11-01 10:00:00.000000 UTC",
            "submission_secret.txt": b"0" * 128,
            ".ipynb_checkpoints/p-checkpoint.ipynb": nb,
            "__pycache__/m.cpython-311.pyc": b"\0",
            "extra/__pycache__/n.pyc": b"\0",
            "helpers.pyc": b"\0",
        },
    )
    (sub / "link.csv").symlink_to(tmp_path / "release" / "data" / "a.csv")
    packed = pack_submission(sub, ANA, release=release)
    assert sorted(packed.files) == ["data/b.csv", "extra/notes.txt", "p.ipynb"]
    assert packed.files["data/b.csv"] == b"x\n2\n"
    assert "data/a.csv: same as the release, left out" in packed.notes
    assert "link.csv: symbolic link left out" in packed.notes
    without_release = pack_submission(sub, ANA)
    assert "data/a.csv" in without_release.files


def test_file_and_folder_names_lose_the_identity(tmp_path):
    al = Identity("al", "Ana Lima", aliases=("student-9",))
    sub = make_submission(
        tmp_path / "sub",
        {
            "p.ipynb": nb_bytes(new_code_cell("1")),
            "AL-notes.txt": b"1",
            "ana_lima_data/student-9.csv": b"2",
            "AnaLima.md": b"3",
            "total.csv": b"4",
            "al.csv": b"5",
            "Al.csv": b"6",
        },
    )
    packed = pack_submission(sub, al)
    assert sorted(packed.files) == [
        "author-2.csv",
        "author-notes.txt",
        "author.csv",
        "author.md",
        "author_data/author.csv",
        "p.ipynb",
        "total.csv",
    ]
    assert packed.files["author.csv"] == b"6"  # "Al.csv" sorts first
    assert packed.files["author-2.csv"] == b"5"
    assert "author-notes.txt: renamed (its name held the author's identity)" in packed.notes
    assert not any(old in note for note in packed.notes for old in ("AL-", "ana_lima", "student-9"))


def test_mentions_in_other_text_files_are_reported(tmp_path):
    sub = make_submission(
        tmp_path / "sub",
        {
            "p.ipynb": nb_bytes(new_code_cell("1")),
            "README.md": b"Analysis by Ana Souza\n",
            "image.png": b"\x89PNG\0Ana Souza",
        },
    )
    packed = pack_submission(sub, ANA)
    assert packed.mentions == [Mention("README.md", -1, "name", "Analysis by Ana Souza")]
    assert packed.files["README.md"] == b"Analysis by Ana Souza\n"  # copied as it is


def test_packing_is_deterministic(tmp_path):
    out = new_output("stream", name="stdout", text="/home/asouza\n")
    cells = [new_code_cell('NAME = "Ana Souza"'), new_code_cell("print()", outputs=[out])]
    sub = make_submission(tmp_path / "sub", {"p.ipynb": nb_bytes(*cells)})
    first, second = pack_submission(sub, ANA), pack_submission(sub, ANA)
    assert first.files == second.files
    assert first.files["p.ipynb"].endswith(b"}\n")
    # compact JSON with sorted keys, a valid notebook that nbformat reads back unchanged
    nb = nbformat.reads(first.files["p.ipynb"].decode(), as_version=4)
    nbformat.validate(nb)
    again = json.dumps(nb, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert first.files["p.ipynb"] == (again + "\n").encode()


# --- bad input ------------------------------------------------------------------------------


def test_invalid_json_names_file_line_and_column(tmp_path):
    sub = make_submission(
        tmp_path / "sub", {"ok.ipynb": nb_bytes(), "bad.ipynb": b'{\n "cells": [,\n'}
    )
    with pytest.raises(PacketError, match=r"^bad\.ipynb: not valid JSON: .*\(line 2, column 12\)$"):
        pack_submission(sub, ANA)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b'{"cells": [], "metadata": {}, "nbformat": 4}', "not a valid notebook"),
        (
            b'{"cells": [{"cell_type": "code"}], "metadata": {}, '
            b'"nbformat": 4, "nbformat_minor": 5}',
            "not a valid notebook",
        ),
        (b"[1, 2]", "not a valid notebook"),
        (b'{"nbformat": 99}', "not a valid notebook"),
    ],
)
def test_json_that_is_not_a_notebook_is_refused(raw, why):
    with pytest.raises(PacketError, match=rf"^q/p\.ipynb: {why}: ."):
        anonymize_notebook(raw, ANA, filename="q/p.ipynb")


def test_non_utf8_notebook_is_refused():
    raw = nb_bytes(new_markdown_cell("café")).replace("é".encode(), b"\xe9")
    with pytest.raises(
        PacketError, match=r"^p\.ipynb: not UTF-8 text \(byte 0xe9 at offset \d+\)$"
    ):
        anonymize_notebook(raw, ANA, filename="p.ipynb")


def test_missing_folders_are_refused(tmp_path):
    with pytest.raises(PacketError, match="no such submission folder"):
        pack_submission(tmp_path / "nope", ANA)
    with pytest.raises(PacketError, match="no such release folder"):
        pack_submission(tmp_path, ANA, release=tmp_path / "nope")


# --- the real course notebook ---------------------------------------------------------------


def test_real_project_notebook_keeps_nothing_of_the_author(tmp_path):
    """project-1 after nbgrader-style edits: a header cell, outputs with the author's home
    path, name and email, metadata naming them. Only reported source mentions remain."""
    ana = Identity("ana", "Ana Souza", "ana.souza@example.org", aliases=("asouza",))
    release = REPO / "course" / "source" / "project-1"
    sub = tmp_path / "submitted" / "ana" / "project-1"
    shutil.copytree(release, sub)
    nb = nbformat.read(sub / "project-1.ipynb", as_version=4)
    header = new_code_cell('NAME = "Ana Souza"\nCOLLABORATORS = "Ben Okafor"')
    nb.cells.insert(0, header)
    nb.metadata["authors"] = [{"name": "Ana Souza", "email": "ana.souza@example.org"}]
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or i == 0:
            continue
        cell.metadata["execution"] = {"iopub.execute_input": "2026-11-01T10:00:00.000Z"}
        cell.execution_count = i
        cell.outputs = [
            new_output(
                "stream",
                name="stderr",
                text=(
                    f"/home/ana/.local/lib/python3.11/site-packages/x.py:{i}: Warning\n"
                    "/tmp/ana-scratch/cache.parquet written by ana\n"
                ),
            ),
            new_output(
                "execute_result",
                execution_count=i,
                data={
                    "text/plain": f"Report for Ana Souza <ana.souza@example.org>, cell {i}",
                    "text/html": f"<b>ANA SOUZA</b> C:\\Users\\ana\\Desktop\\r{i}.html",
                },
            ),
        ]
    nb.cells[1].source += "\n# ana's working copy"  # a source mention: reported
    nb.cells.append(new_markdown_cell("Thanks for reading! Ana Souza, ana.souza@example.org"))
    nbformat.write(nb, sub / "project-1.ipynb")
    (sub / "timestamp.txt").write_text("2026-11-01 10:00:00.000000 UTC")
    (sub / "ana-notes.md").write_text("My draft.\n")

    packed = pack_submission(sub, ana, release=release)

    assert sorted(packed.files) == ["author-notes.md", "project-1.ipynb"]  # data as released
    assert {(m.cell, m.kind) for m in packed.mentions} == {
        (1, "username"),
        (len(nb.cells) - 1, "name"),
        (len(nb.cells) - 1, "email"),
    }
    out = json.loads(packed.files["project-1.ipynb"])
    assert source(out["cells"][0]) == 'NAME = ""\nCOLLABORATORS = ""'
    released_ids = {c.id for c in nbformat.read(release / "project-1.ipynb", as_version=4).cells}
    assert {c["id"] for c in out["cells"][1:-1]} == released_ids
    for m in packed.mentions:  # the reported sources, as written
        out["cells"][m.cell]["source"] = []
    leftover = text_of(out) + "".join(
        v.decode() for k, v in packed.files.items() if k != "project-1.ipynb"
    )
    author = re.compile(
        r"(?<![^\W_])(ana|asouza|souza|ana\.souza@example\.org|ben okafor)(?![^\W_])"
        r"|/home/|:\\+users",
        re.IGNORECASE,
    )
    assert author.findall(leftover) == []
    assert "2026-11-01" not in leftover  # execution timestamps are gone
    assert "~/.local/lib" in leftover
    assert "/tmp/author-scratch/cache.parquet written by author" in leftover


# --- writing packets ------------------------------------------------------------------------


def packed_pair() -> dict[str, PackedSubmission]:
    return {
        "asouza": PackedSubmission({"p.ipynb": b"A", "data/x.csv": b"ax"}),
        "bokafor": PackedSubmission({"p.ipynb": b"B"}),
        "mchen": PackedSubmission({"p.ipynb": b"C", "deep/er/f.txt": b"cf"}),
    }


PAIRS = [("bokafor", "asouza"), ("mchen", "asouza"), ("asouza", "bokafor"), ("asouza", "mchen")]


def test_write_packets_one_folder_per_pair_with_random_names(tmp_path):
    dest = tmp_path / "round-1" / "packets"
    names = write_packets(dest, packed_pair(), PAIRS, prefix="project-1")
    assert list(names) == PAIRS
    assert sorted(p.name for p in dest.iterdir()) == sorted(names.values())
    assert len(set(names.values())) == len(PAIRS)
    for (_, author), name in names.items():
        assert re.fullmatch(r"project-1-[0-9a-f]{16}", name)
        assert author not in name
        files = {
            p.relative_to(dest / name).as_posix(): p.read_bytes()
            for p in (dest / name).rglob("*")
            if p.is_file()
        }
        assert files == packed_pair()[author].files
    assert [p.name for p in (tmp_path / "round-1").iterdir()] == ["packets"]  # no temp left
    again = write_packets(tmp_path / "other", packed_pair(), PAIRS, prefix="project-1")
    assert set(again.values()).isdisjoint(names.values())  # not derived from the pairs


def test_write_packets_fails_on_the_second_packet_and_leaves_nothing(tmp_path):
    packed = packed_pair()
    packed["mchen"] = PackedSubmission({"a": b"file", "a/b": b"under a file"})  # cannot be written
    pairs = [("bokafor", "asouza"), ("asouza", "mchen")]
    with pytest.raises(FileExistsError, match="File exists"):
        write_packets(tmp_path / "packets", packed, pairs, prefix="p")
    assert list(tmp_path.iterdir()) == []


def test_write_packets_failing_rename_leaves_nothing(tmp_path, monkeypatch):
    def refuse(src, dst):
        raise PermissionError(f"read-only: {dst}")

    monkeypatch.setattr(packets.os, "rename", refuse)
    with pytest.raises(PermissionError, match="read-only"):
        write_packets(tmp_path / "packets", packed_pair(), PAIRS, prefix="p")
    assert list(tmp_path.iterdir()) == []


def test_second_write_into_a_used_dest_is_refused_and_first_kept(tmp_path):
    dest = tmp_path / "packets"
    first = write_packets(dest, packed_pair(), PAIRS, prefix="p")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(FileExistsError, match="not an empty folder"):
        write_packets(dest, packed_pair(), PAIRS[:1], prefix="p")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert sorted(p.name for p in dest.iterdir()) == sorted(first.values())
    empty = tmp_path / "empty"
    empty.mkdir()
    self_review = [("asouza", "asouza")]  # a self-assessment packet is a packet like others
    names = write_packets(empty, packed_pair(), self_review, prefix="")
    assert [len(p.name) for p in empty.iterdir()] == [16]
    assert (empty / names[self_review[0]] / "p.ipynb").read_bytes() == b"A"


@pytest.mark.parametrize(
    ("pairs", "packed_extra", "message"),
    [
        ([("asouza", "nobody")], {}, "no packed submission for author 'nobody'"),
        ([("asouza", "mchen"), ("asouza", "mchen")], {}, "given twice"),
        ([("asouza", "evil")], {"evil": PackedSubmission({"../x": b""})}, "unsafe path"),
        ([("asouza", "evil")], {"evil": PackedSubmission({"/etc/x": b""})}, "unsafe path"),
    ],
)
def test_write_packets_refuses_bad_pairs_before_writing(tmp_path, pairs, packed_extra, message):
    with pytest.raises(ValueError, match=message):
        write_packets(tmp_path / "packets", {**packed_pair(), **packed_extra}, pairs, prefix="p")
    assert list(tmp_path.iterdir()) == []


def test_write_packets_refuses_a_prefix_that_is_a_path(tmp_path):
    with pytest.raises(ValueError, match="packet prefix"):
        write_packets(tmp_path / "packets", packed_pair(), PAIRS, prefix="../x")
