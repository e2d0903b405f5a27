"""History is bounded for the tables beside the events: deployments, the notification log of
repeat suppression, and silences. Each batch is one DELETE of at most ``limit`` rows, written
once for both backends (``lock``: PostgreSQL's ``FOR UPDATE SKIP LOCKED``, so two pruners take
different rows; SQLite runs it through its one writer). ``retention.py`` drives them.

What stays, whatever its age:

* ``deployments``: the newest deployment of each (repository, environment) — the order
  ``runs_history.py`` reads them in (``deployed_at``, then ``event_id``) — because a run starting
  now asks for it (``git: {sha: latest_deployment}``). Only older ones go.
* ``notify_log``: a row a reservation holds or held within the horizon (``pending_until``), and
  one whose last send is within it. The pruner's horizon for it is at least the longest
  ``repeat_interval`` in force (``receiver/pruner.py``), so pruning never lets a repeat through.
* ``silences``: live and pending ones (not expired by hand, not ended). An expired or ended one
  goes once it has been over for the horizon: the page lists it until then.
"""

from __future__ import annotations

from receiver.store.steps import Statement, Steps, count

# The side tables, in the order a pass prunes them (counted under these names in /metrics).
SIDE_TABLES = ("deployments", "notify_log", "silences")

# A deployment with a newer one of the same repository and environment (both NULL counts as the
# same: an environment-less lookup reads those too). No ORDER BY: sorting would test every old row
# for a newer one at each batch (~30 ms for 10,000 on SQLite); the table is read in event id order,
# which is time order (``new_id``), so the first rows found are the oldest anyway.
_OLD_DEPLOYMENTS = (
    "SELECT d.event_id FROM deployments d WHERE d.deployed_at < ? AND EXISTS ("
    "SELECT 1 FROM deployments n WHERE n.repo = d.repo "
    "AND (n.environment = d.environment OR (n.environment IS NULL AND d.environment IS NULL)) "
    "AND (n.deployed_at > d.deployed_at OR (n.deployed_at = d.deployed_at AND n.event_id > d.event_id))) "
    "LIMIT ?{lock}"
)
# A row never sent and not reserved (a reservation released after a failed send) carries nothing:
# COALESCE makes it old. ``store/noise.py`` locks the row it reads (its upsert), so a reservation
# being taken is skipped by PostgreSQL's SKIP LOCKED, and one taken after the delete starts anew.
_OLD_NOTIFY_LOG = (
    "SELECT rule, action_index, group_key FROM notify_log "
    "WHERE COALESCE(sent_at, 0) < ? AND COALESCE(pending_until, 0) < ? LIMIT ?{lock}"
)
_OLD_SILENCES = "SELECT id FROM silences WHERE ends_at < ? OR expired_at < ? ORDER BY ends_at LIMIT ?{lock}"

_DELETE = {
    "deployments": f"DELETE FROM deployments WHERE event_id IN ({_OLD_DEPLOYMENTS})",
    "notify_log": f"DELETE FROM notify_log WHERE (rule, action_index, group_key) IN ({_OLD_NOTIFY_LOG})",
    "silences": f"DELETE FROM silences WHERE id IN ({_OLD_SILENCES})",
}
# How many times each statement takes the horizon before the limit.
_HORIZONS = {"deployments": 1, "notify_log": 2, "silences": 2}


def prune_side(table: str, before: float, limit: int, lock: str = "") -> Steps[int]:
    """Delete up to ``limit`` of ``table``'s rows that are over before ``before``; how many went."""
    sql = _DELETE[table].format(lock=lock)
    return count((yield Statement(sql, (*[before] * _HORIZONS[table], limit), rows=False)))
