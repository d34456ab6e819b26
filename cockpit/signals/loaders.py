"""Import every source implementation so it registers itself (see ``base.make_source``)."""

from cockpit.signals import helpdesk, http, postgres, prometheus, simulated  # noqa: F401
