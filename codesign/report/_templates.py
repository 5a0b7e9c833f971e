"""The report's HTML templates: one Jinja2 environment, autoescaping every value it is given.

The templates are package data (``codesign/report/templates/*.html.j2``, shipped in the wheel
by ``[tool.setuptools.package-data]``) and are read through :mod:`importlib.resources`, so an
installed codesign finds them without a checkout. Python computes what a page says (numbers
formatted, rows chosen) as plain text and data; the templates own every tag, and escape every
value unless it is :class:`markupsafe.Markup` (a Plotly figure's HTML, plotly.js, another
template's output), so a study, parameter or engine name can never inject markup into a page.
"""

from __future__ import annotations

import functools
from importlib import resources

import jinja2
from markupsafe import Markup

#: The package that holds the ``templates/`` folder.
_PACKAGE = "codesign.report"


def _source(name: str) -> str:
    """The text of ``templates/<name>`` from the installed package (a checkout's or a wheel's)."""
    path = resources.files(_PACKAGE).joinpath("templates", name)
    if not path.is_file():
        raise jinja2.TemplateNotFound(name)
    return path.read_text(encoding="utf-8")


def _format(value: float, spec: str) -> str:
    """``{{ x | fmt('.4g') }}``: Python's ``format(x, spec)`` (Jinja's ``format`` is ``%``-style)."""
    return format(value, spec)


@functools.cache
def environment() -> jinja2.Environment:
    """The one environment every report page renders through: autoescaping on for every
    template, undefined names an error (a misspelt field never renders as nothing), block tags
    on their own lines leave no blank line behind."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_source),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = _format
    # tojson keeps the order the page's data was built in (Jinja sorts keys by default)
    env.policies["json.dumps_kwargs"] = {"sort_keys": False}
    return env


def render(template: str, /, **context: object) -> Markup:
    """Render ``templates/<template>`` with ``context``; the result is markup, safe to place in
    another template as it is."""
    return Markup(environment().get_template(template).render(**context))
