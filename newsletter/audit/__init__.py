"""Audits of a rendered issue that need more than a glance at its HTML: text contrast in light
and dark schemes (:mod:`.contrast`), image files and their sharpness (:mod:`.images`), heading
order (:mod:`.headings`) and the settings that end up in headers (:mod:`.sender`). Each returns
messages; :func:`newsletter.checks.check_rendered` runs them with the rest."""
