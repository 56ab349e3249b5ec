"""nbcohort.exchange: peer review on nbgrader. It drives nbgrader in-process, handles learners'
files and computes (allocation, anonymized packets, aggregation); every change to a review
round is recorded by ``nbcohort.cohorts.services.review_rounds``, which checks who may make it
and logs it. The exchange never writes a row itself (``tests/exchange/test_boundaries.py``).

A review round's life, in order (CLI: ``nbcohort review ...``, in ``cohorts/cli/review.py``):

1. open    ``round_open.open_round``: collect (``nbgrader_io``, ``vetted_collect``), take the
           submissions in (``round_submissions``: snapshot, ``packets``), allocate reviewers
           (``allocation``), write the packets. Recorded by ``create_round`` (review.open).
2. review  members review through the API (``cohorts/api/routes/peer_review.py``) and
           ``services.reviews``: inbox, ``save_review``, ``rate_review``, ``publish_reviewed``.
           The instructor follows with ``services.review_status``: ``round_status``,
           ``remind_reviewers`` (review.remind).
3. change  ``round_update.update_round`` (CLI ``review reassign``): late submitters join
           (``reallocation.add_late``), missed reviews move (``reallocation.reassign``).
           Recorded by ``withdraw_allocations`` (review.withdraw), ``move_allocation``
           (review.reassign) and ``add_allocations`` (review.allocate).
4. close   ``round_close.close``: aggregate the scores (``aggregate``; its model's updates and
           priors in ``_reviewer_model``). Recorded by ``close_round`` (review.close); then
           ``round_close.push_grades`` writes them into nbgrader's gradebook and releases
           feedback. Afterwards: ``round_close.reopen`` -> ``reopen_round`` (review.reopen),
           and an instructor's score, ``set_override`` (review.override), then push_grades.

Shared by the steps: ``round_context`` (RoundContext, RoundError, the per-assignment lock),
``rubric`` (course.toml's rubric and review settings), ``services.allocation_rules`` (team
rules and the pairs they forbid; in the services layer, which a leave's backup pool uses
too), ``learner_files`` (a learner's files, never following a link),
``_identity`` (how packets recognise the author), ``_allocation_repair`` (allocation's
repair pass). Not part of a round: ``release`` (nbgrader generate_assignment, a learner's copy).
"""
