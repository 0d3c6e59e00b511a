"""How numbers read: one rule for a duration, whether a job's elapsed time or a switch's
estimate."""

from __future__ import annotations

from django.template import Context, Template

from embeddings.templatetags.formats import duration


def test_a_duration_names_its_two_largest_units() -> None:
    assert duration(None) == "—"
    assert duration(12.4) == "12 s"
    assert duration(249) == "4 min 09 s"
    assert duration(3 * 3600 + 5 * 60 + 40) == "3 h 05 min"


def test_every_page_loads_that_rule_from_one_template_library() -> None:
    template = Template("{% load formats %}{{ seconds|duration }}")
    assert template.render(Context({"seconds": 5400})) == "1 h 30 min"
