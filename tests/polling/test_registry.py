"""The pollers' registry: which platforms are polled, and which runs a trigger starts are."""

from __future__ import annotations

from receiver.polling import POLLERS, started_run_pollers


def test_every_platform_module_is_registered_under_its_platform() -> None:
    assert {p: spec.platform for p, spec in POLLERS.items()} == {
        "fusillade": "fusillade", "nunu": "nunu", "automatedfuture": "automatedfuture",
    }  # fmt: skip
    assert {p for p, spec in POLLERS.items() if spec.can_discover} == {"nunu"}


def test_a_run_a_trigger_starts_is_polled_only_where_the_poller_reads_runs() -> None:
    # Automated Future's API reads results (GET /result/{id}), not the run POST /run/ names:
    # polling that id would answer 404 until max_duration.
    assert started_run_pollers() == {"fusillade", "nunu"}
