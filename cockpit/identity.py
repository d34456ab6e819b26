"""Who a session is: the person it acts as, from the session itself, and whether it may write.

The login is the real uid's user name (``cockpit.journal.entry._os_user``, via pwd), never
``$USER`` or ``$LOGNAME``, which anyone can set. The plan ties people to logins with
``operators.people[].logins``, and one of three modes holds for the whole plan:

- ``checked``: some person lists logins. A session acts only as a person its login maps to:
  ``--operator NAME`` (or ``$COCKPIT_OPERATOR``) may only pick one of them; with no choice
  and exactly one person mapped, that person; several mapped, the session must say which.
  A login mapped to nobody gets a read-only cockpit, told why in one line.
- ``names``: people, but nobody lists logins. ``--operator`` names any listed person, unchecked
  (the rule before identities existed).
- ``open``: no people at all (demo-style and rehearsal plans): anyone may do anything.

:func:`resolve` decides it once, when a cockpit starts; :func:`standing` says it again for the
running session from the operator and login its ``Actor`` recorded (``Operations`` and the
header ask it), so nothing inside a running cockpit can change who it acts as. Neither ever
raises: any login or requested name (lone surrogates, escapes, 64 KiB) gives an ``Identity``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cockpit.config.plan import Plan
from cockpit.text import clean

MODES = ("checked", "names", "open")
ENV_OPERATOR = "COCKPIT_OPERATOR"


@dataclass(frozen=True)
class Identity:
    """``operator``: the name recorded as the actor (the login itself when it maps to nobody);
    ``role``: the person's role, None when open or unmapped; ``why``: one line, why this
    session may not write (None when it may); ``refusal``: one line, why the cockpit may not
    start at all as asked (exit 2), None when it may."""

    operator: str
    login: str
    mode: str
    role: str | None = None
    may_write: bool = True
    why: str | None = None
    refusal: str | None = None

    def summary(self) -> tuple[str, ...]:
        """The header's identity part, longest first (the header shows the longest that fits)."""
        name = shown(self.operator)
        if not self.may_write:
            return (f"read-only: {self.why or 'this session may not act'}",)
        who = f"{name} ({shown(self.role, 24)})" if self.role else name
        if self.mode == "checked":
            return (f"{who} · identities checked", f"{who} · login checked", who, name)
        if self.mode == "names":
            return (f"{who} · names not tied to logins", f"{who} · names unchecked", who, name)
        return (f"{who} · anyone may act (no operators.people)", f"{who} · anyone may act", who)


def shown(text: object, limit: int = 40) -> str:
    """A login or name as this module quotes it: one cleaned line, capped."""
    return clean(text, limit, single_line=True)


def mode(plan: Plan) -> str:
    people = plan.operators.people
    if any(p.logins for p in people):
        return "checked"
    return "names" if people else "open"


def mapped(plan: Plan, login: str) -> list[str]:
    """The names of the people ``login`` maps to, in plan order."""
    return [p.name for p in plan.operators.people if login in p.logins]


def standing(plan: Plan, operator: str, login: str) -> Identity:
    """The identity of a running session acting as ``operator`` under ``login``: whether it
    may write, and in one line why not (not a listed person; identities checked and the login
    is not one of that person's)."""
    m = mode(plan)
    if m == "open":
        return Identity(operator, login, m)
    role = plan.role_of(operator)
    if role is None:
        if m == "checked" and not mapped(plan, login):
            why = unmapped(login)
        else:
            why = (f"'{shown(operator, 64)}' is not an operator of this plan "
                   "(operators.people)")
        return Identity(operator, login, m, may_write=False, why=why)
    if m == "checked" and operator not in mapped(plan, login):
        who = mapped(plan, login)
        why = (f"login {shown(login)} is not one of {shown(operator, 64)}'s logins "
               f"(operators.people): " + (f"it maps to {', '.join(who)}" if who else
                                          "it maps to nobody"))
        return Identity(operator, login, m, role, may_write=False, why=why)
    return Identity(operator, login, m, role)


def unmapped(login: str) -> str:
    return f"login {shown(login)} maps to nobody in operators.people (logins)"


def resolve(plan: Plan, requested: str | None, login: str,
            environ: Mapping[str, str]) -> Identity:
    """The identity a cockpit starts with: ``requested`` is ``--operator`` (None when not
    given; then ``$COCKPIT_OPERATOR`` from ``environ``), ``login`` the session's OS login.
    Refusals (exit 2) and the read-only reason are one line each; never raises."""
    env = environ.get(ENV_OPERATOR) if requested is None or requested == "" else None
    flag, asked = ("--operator", requested) if requested else \
        ((f"${ENV_OPERATOR}", env) if env else (None, None))
    m = mode(plan)
    if m == "open":
        return Identity(asked or login, login, m)
    if m == "names":
        operator = asked or login
        if plan.role_of(operator) is None:
            names = ", ".join(p.name for p in plan.operators.people)
            return Identity(operator, login, m, may_write=False, refusal=(
                f"operator '{shown(operator, 64)}' is not in this plan's operators.people "
                f"({names}); use --operator NAME or ${ENV_OPERATOR}"))
        return standing(plan, operator, login)
    who = mapped(plan, login)
    if asked is not None:
        if asked in who:
            return standing(plan, asked, login)
        if who:
            why = (f"{flag} {shown(asked, 64)}: login {shown(login)} maps to "
                   f"{', '.join(who)} (operators.people logins); pick one of them")
        else:
            why = (f"{flag} {shown(asked, 64)}: {unmapped(login)}; without it the cockpit "
                   "opens read-only")
        return Identity(asked, login, m, may_write=False, refusal=why)
    if len(who) == 1:
        return standing(plan, who[0], login)
    if who:
        return Identity(login, login, m, may_write=False, refusal=(
            f"login {shown(login)} maps to {', '.join(who)} (operators.people logins): "
            "say which with --operator NAME"))
    return Identity(login, login, m, may_write=False, why=unmapped(login))
