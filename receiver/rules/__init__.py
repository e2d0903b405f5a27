"""Rules: load and compile rule files, match events, render actions, plan deliveries.

The one import door for the rest of Hookyard; inside the package modules import each other
directly (``load`` compiles files with ``conditions``/``operators``/``index``/``regex`` and
``templates``; ``plan`` turns a matched event into planned deliveries).
"""

from receiver.rules.load import PlannedAction, RuleSet, load_rules, render_action
from receiver.rules.plan import Plan, Router, load_rules_for, replay
from receiver.rules.templates import RenderError, render_model

__all__ = [
    "Plan",
    "PlannedAction",
    "RenderError",
    "Router",
    "RuleSet",
    "load_rules",
    "load_rules_for",
    "render_action",
    "render_model",
    "replay",
]
