"""Sandboxed Jinja2 templates per language, with Babel money and date filters.

Layout: `<search path>/<language>/<name>.j2` with blocks `subject`, `text`, `html`.
Language fallback: fr_BE → fr_BE, fr, default language, en. Errors name template:line.
"""

from __future__ import annotations

import functools
import sys
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency
from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateSyntaxError,
    pass_context,
)
from jinja2 import (
    TemplateError as JinjaTemplateError,
)
from jinja2.sandbox import SandboxedEnvironment

from hub.errors import TemplateError

BUILTIN = Path(__file__).parent / "default_templates"
_RENDERERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def renderer_for(ws) -> Renderer:
    """The workspace's renderer (its templates folder over the built-in ones), made once."""
    renderer = _RENDERERS.get(ws)
    if renderer is None:
        paths = [ws.root / ws.config.templates, BUILTIN]
        renderer = _RENDERERS[ws] = Renderer(
            [p for p in paths if p.exists()], filters=ws.registry.template_filters,
            default_language=ws.config.company.language,
            default_locale=ws.config.company.babel_locale)
    return renderer


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None
    template: str
    language: str


class Renderer:
    def __init__(self, search_paths: Sequence[Path], *, filters: Mapping[str, Callable] = {},
                 default_language: str = "en", default_locale: str = "en_GB"):
        self.paths = [Path(p) for p in search_paths]
        self.default_language, self.default_locale = default_language, default_locale
        self.env = SandboxedEnvironment(loader=FileSystemLoader([str(p) for p in self.paths]),
                                        undefined=StrictUndefined, autoescape=False,
                                        trim_blocks=True, lstrip_blocks=True)
        self.html_env = SandboxedEnvironment(loader=self.env.loader, undefined=StrictUndefined,
                                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
        for env in (self.env, self.html_env):
            env.filters.update(money=_money(default_locale), date=_date(default_locale),
                               datetime=_datetime(default_locale))
            env.filters.update(filters)

    def _candidates(self, language: str) -> list[str]:
        out = [language]
        if "_" in language:
            out.append(language.split("_")[0])
        out += [self.default_language, "en"]
        return list(dict.fromkeys(out))

    def resolve(self, name: str, language: str) -> str:
        for lang in self._candidates(language or self.default_language):
            rel = f"{lang}/{name}.j2"
            if any((p / rel).exists() for p in self.paths):
                return rel
        raise TemplateError(f"no template {name!r} for language {language!r} or its fallbacks "
                            f"(looked in {', '.join(map(str, self.paths))})", place=f"{name}.j2")

    def render(self, name: str, language: str, context: Mapping[str, Any],
               html: bool = True) -> Rendered:
        """Subject, text and (unless `html=False`: a preview that shows the text) HTML."""
        rel = self.resolve(name, language)
        try:
            text_t = self.env.get_template(rel)
            html_t = self.html_env.get_template(rel)
            ctx = text_t.new_context(dict(context))
            subject = "".join(text_t.blocks["subject"](ctx)).strip() if "subject" in text_t.blocks else ""
            text = "".join(text_t.blocks["text"](ctx)).strip() if "text" in text_t.blocks else ""
            body = None
            if html and "html" in html_t.blocks:
                body = "".join(html_t.blocks["html"](html_t.new_context(dict(context)))).strip()
        except TemplateSyntaxError as exc:
            raise TemplateError(exc.message or str(exc), place=f"{rel}:{exc.lineno}") from None
        except (JinjaTemplateError, Exception) as exc:
            raise TemplateError(f"{type(exc).__name__}: {exc}", place=_place(rel)) from None
        return Rendered(subject, text, body, rel, rel.split("/")[0])

    def names(self) -> set[str]:
        return {p.stem for root in self.paths if root.exists() for p in root.glob("*/*.j2")
                if not p.stem.startswith("_")}

    def check_all(self) -> list[str]:
        problems = []
        for root in self.paths:
            for path in sorted(root.glob("*/*.j2")) if root.exists() else []:
                try:
                    self.env.parse(path.read_text(encoding="utf-8"))
                except TemplateSyntaxError as exc:
                    problems.append(f"{path}:{exc.lineno}: {exc.message}")
        return problems


def _place(rel: str) -> str:
    """template:line of the innermost template frame of the exception being handled."""
    tb, place = sys.exc_info()[2], rel
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            name = template.name or rel
            place = f"{name}:{template.get_corresponding_lineno(tb.tb_lineno)}"
        tb = tb.tb_next
    return place


@functools.cache
def _locale(code: str) -> Locale:
    """Parsed once: Babel parses a locale string on every call it is given one."""
    return Locale.parse(code)


def _money(default: str):
    @pass_context
    def money(ctx, amount, currency):
        return format_currency(amount, currency, locale=_locale(ctx.get("locale") or default))
    return money


@functools.lru_cache(maxsize=4096)
def _format_date(value, format: str, locale: str) -> str:
    """A statement repeats the same due dates: each is formatted once per locale."""
    return format_date(value, format=format, locale=_locale(locale))


def _date(default: str):
    @pass_context
    def date(ctx, value, format="long"):
        return _format_date(value, format, ctx.get("locale") or default)
    return date


def _datetime(default: str):
    @pass_context
    def dtm(ctx, value, format="medium"):
        return format_datetime(value, format=format,
                               locale=_locale(ctx.get("locale") or default))
    return dtm
