"""The runs pages (``/ui/runs``, ``/ui/runs/{run_key}``): the list with the API's filters, and one
run with its timeline, trigger, commit statuses and the trend of its test.

The trend chart is the only script of the UI: Chart.js vendored under static/vendor/ and
static/runs-chart.js, both served by Hookyard; the data is a JSON block, never inline code.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from receiver.errors import HTTPError
from receiver.polling.present import run_poll
from receiver.runs.model import TRANSITIONS
from receiver.runs.present import FILTERS, run_query
from receiver.sources.fields import OUTCOMES
from receiver.store.base import DeliveryQuery
from receiver.web.html import CHART_HEADERS
from receiver.web.params import DEFAULT_LIMIT, parse_limit
from receiver.web.present import delivery_dict, event_summary
from receiver.web.runs_api import RUN_EVENTS, RunsApi
from receiver.web.runs_present import TREND_RUNS, run_view, trend
from receiver.web.service import EVENT_DELIVERIES, Delivery, DeliveryLog
from receiver.web.views import Views


class RunViews:
    def __init__(self, views: Views, log: DeliveryLog) -> None:
        self.views = views
        self.log = log
        self.api = RunsApi(log.store, log.clock)

    async def runs(self, request: Request) -> Response:
        params = request.query_params
        form = {k: params.get(k, "") for k in FILTERS}
        try:
            query = run_query(params, parse_limit(params))
        except HTTPError as exc:  # the form stays, with the problem above the (empty) list
            return await self._list(request, form, [], None, {exc.code.removeprefix("bad_"): exc.message})
        rows = await self.api.runs_store.list_runs(query)
        links = await self.api.runs_store.run_event_ids([r.key for r in rows])
        states = await self.log.store.event_delivery_states([e for ids in links.values() for e in ids])
        views = []
        for r in rows:
            total: Counter[str] = Counter()
            for event_id in links.get(r.key, ()):
                total.update(states.get(event_id, {}))
            views.append(run_view(r, dict(total)))
        kept = {k: v for k, v in form.items() if v}
        if query.limit != DEFAULT_LIMIT:
            kept["limit"] = str(query.limit)
        older = f"/ui/runs?{urlencode({**kept, 'before': rows[-1].key})}" if len(rows) == query.limit else None
        newest = f"/ui/runs?{urlencode(kept)}" if query.before else None
        return await self._list(request, form, views, older, None, newest)

    async def _list(
        self,
        request: Request,
        form: dict[str, str],
        runs: list[dict[str, Any]],
        older: str | None,
        errors: dict[str, str] | None,
        newest: str | None = None,
    ) -> Response:
        return self.views.page(
            request, "runs.html", 400 if errors else 200, nav="runs", stats=await self.log.stats(), runs=runs,
            form=form, errors=errors or {}, filtered=any(form.values()), outcomes=OUTCOMES, transitions=TRANSITIONS,
            older=older, newest=newest,
        )  # fmt: skip

    async def run(self, request: Request) -> Response:
        store = self.log.store
        row = await self.api.find_run(request.path_params["run_key"])
        events = await self.api.runs_store.run_events(row.key, RUN_EVENTS)
        caused = [await self._deliveries(e.id) for e in events]
        trigger_event = await store.get_event(row.trigger_event_id) if row.trigger_event_id else None
        trigger_delivery = await store.get_delivery(row.trigger_delivery_id) if row.trigger_delivery_id else None
        statuses = [d for ds in caused for d in ds if self._is_status(d, row.sha)]
        if trigger_event is not None:  # a status the triggering event set (pending) is this commit's too
            statuses = [d for d in await self._deliveries(trigger_event.id) if self._is_status(d, row.sha)] + statuses
        previous = await self.api.runs_store.get_run(row.previous_key) if row.previous_key else None
        series = await self.api.runs_store.run_trend(row, TREND_RUNS)
        poll = await run_poll(store, row.source_id, row.run_id, self.log.clock())
        response = self.views.page(
            request,
            "run.html",
            poll=poll,
            nav="runs",
            stats=await self.log.stats(),
            run=run_view(row),
            previous=run_view(previous) if previous else None,
            timeline=[{"event": event_summary(e), "deliveries": ds} for e, ds in zip(events, caused, strict=True)],
            trigger_event=event_summary(trigger_event) if trigger_event else None,
            trigger_delivery=delivery_dict(trigger_delivery, []) if trigger_delivery else None,
            statuses=statuses,
            trend=trend(row, series),
            trend_runs=TREND_RUNS,
        )
        response.headers.update(CHART_HEADERS)
        return response

    async def _deliveries(self, event_id: str) -> list[dict[str, Any]]:
        rows = await self.log.store.list_deliveries(DeliveryQuery(event_id=event_id, limit=EVENT_DELIVERIES))
        rows.reverse()  # oldest first: the order things happened
        attempts = await self.log.store.attempts_for([d.id for d in rows])
        return [delivery_dict(d.row, d.attempts) for d in (Delivery(r, attempts[r.id]) for r in rows)]

    def _is_status(self, d: dict[str, Any], sha: str | None) -> bool:
        """A commit status of this run's commit: a delivery to a github_status sink for ``sha``."""
        sink = self.log.config().sinks.get(d["sink"])
        if sink is None or sink.kind != "github_status":
            return False
        params = d["params"] or {}
        target = params.get("sha") or sha
        return sha is None or (isinstance(target, str) and target.lower() == sha.lower())
