"""The job templates shipped with Podium: one directory per template, holding its
``template.yaml`` (name, description, parameters) and its script (``run.py``).

A step runs one by naming it as its ``type`` (``type: sql``); see ``docs/templates.md``.
"""
