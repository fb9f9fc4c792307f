"""Policy what-if (officers): re-decide a day's recorded entries under a changed policy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from station.config import PolicySettings
from station.console.deps import ConsoleDep, OfficerUser, PageDep, ReadLedger
from station.console.params import Query, today
from station.console.web import render
from station.errors import ConfigError

router = APIRouter(tags=["what-if"])
FIELDS = {"date", "fever_threshold_c", "color", "during_monitoring", "nat_max_age_days",
          "followup_grace_days", "rules_apply_days", "window_first", "window_last", "run"}
COLORS = ("green", "yellow", "red")


def changed_policy(query: Query, current: PolicySettings) -> dict[str, Any]:
    """The overrides the form asks for (only values that differ from the policy in force)."""
    rules = current.returning
    asked: dict[str, Any] = {
        "fever_threshold_c": query.decimal("fever_threshold_c", 35.0, 40.0,
                                           current.fever_threshold_c),
        "returning.during_monitoring": query.choice("during_monitoring", ("admit", "deny"))
        or rules.during_monitoring,
        "returning.nat_max_age_days": query.number("nat_max_age_days", 0, 60,
                                                   rules.nat_max_age_days),
        "returning.followup_grace_days": query.number("followup_grace_days", 0, 14,
                                                      rules.followup_grace_days),
        "returning.rules_apply_days": query.number("rules_apply_days", 0, 120,
                                                   rules.rules_apply_days),
    }
    window_first = query.day("window_first", rules.window[0]) or rules.window[0]
    window_last = query.day("window_last", rules.window[1]) or rules.window[1]
    asked["returning.window"] = [window_first.isoformat(), window_last.isoformat()]
    colors = query.choices("color", COLORS) if query.raw("run") else list(current.color)
    asked["color"] = colors
    return asked


@router.get("/whatif", response_class=HTMLResponse)
def whatif_page(page: PageDep, user: OfficerUser, ledger: ReadLedger,
                console: ConsoleDep) -> HTMLResponse:
    """Pick a day and change the policy; see who would have been decided differently."""
    query = Query(page, FIELDS, multi={"color"})
    day = query.day("date", today()) or today()
    current = console.policy()
    overrides = changed_policy(query, current)
    query.done()
    policy, problem = current, None
    try:
        policy = current.with_overrides(overrides, "what-if")
    except ConfigError as error:
        problem = str(error)
    # imported on the first what-if: it pulls in the health-code verifier (cbor2,
    # cryptography), which the rest of the console does not need
    from station.console.whatif import what_if

    result = what_if(ledger.decided_entries_on(day.isoformat()), policy, day) \
        if problem is None and query.raw("run") else None
    return render(console.templates, page, "whatif.html", day=day, current=current,
                  policy=policy, problem=problem, result=result, colors=COLORS,
                  status=400 if problem else 200)
