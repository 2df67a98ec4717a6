"""The operations layer: the one door every change goes through.

Whatever asks for a change -- an API route (and so the CLI, which only talks HTTP), the
cron scheduler, a signal, a step's ``emits``, ``podium server --load`` -- calls one function
here, one per thing that can be asked for:

- :mod:`~podium.control.workflows`: push, activate, deactivate, unblock (and loading files);
- :mod:`~podium.control.starts`: start an instance (a manual run, its dry run, and every
  trigger take this one path), :mod:`~podium.control.instances`: stop, restart, skip;
- :mod:`~podium.control.breakpoints`: set, clear, resume;
- :mod:`~podium.control.tags`: tag limits; :mod:`~podium.control.signals`: announce;
- :mod:`~podium.control.templates`: register a job template.

Each takes a typed request and the :class:`~podium.control.identity.Caller` (a placeholder
identity until identities land), plus what it needs (:class:`~podium.control.services.Services`,
or an open ``podium.store.Connection`` for a start inside the engine's transaction);
validates; makes the change in one transaction through ``podium.store`` (this package
writes no SQL); and returns a typed result. Readers (listings, status, logs) read the
store directly: they change nothing.

Authorization and audit belong here and nowhere else: every operation first calls
:func:`~podium.control.access.authorize`, which today is a placeholder that allows
everything (no identities yet, so no checks).
"""
