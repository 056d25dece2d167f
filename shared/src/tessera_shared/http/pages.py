"""Pages for people who open a link from a customer's e-mail in a browser (the survey, the
unsubscribe link): the same endpoint answers an API client JSON and a browser (``Accept:
text/html``) a small page in the customers' language, English or Chinese, from a service's Jinja2
templates (``<package>/templates/{en,zh}/<name>.html``, autoescaped)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

Language = Literal["en", "zh"]
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def template_environment(package: str, folder: str = "templates") -> Environment:
    """The templates of ``package``: HTML autoescaped, an undefined name an error, not a blank."""
    return Environment(
        loader=PackageLoader(package, folder),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def language(locale: str) -> Language:
    """The templates' language for a locale: Chinese for ``zh``, else English."""
    return "zh" if locale == "zh" else "en"


def render_page(templates: Environment, name: str, locale: str, values: dict[str, Any]) -> str:
    return templates.get_template(f"{language(locale)}/{name}.html").render(**values)


def wants_html(request: Request) -> bool:
    """A browser names ``text/html`` in Accept; an API client sends JSON or nothing (and keeps JSON)."""
    return "text/html" in request.headers.get("accept", "")


def html_page(html: str, status_code: int = 200) -> HTMLResponse:
    """A page answering a link: personal (its token is in the URL), so never stored by a cache."""
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def html_too(description: str, *statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses``: these statuses may also be a page (``text/html``) for a browser."""
    return {
        status: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": description}
        for status in statuses or (200,)
    }
