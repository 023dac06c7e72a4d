"""Templates: sandboxed, per language with fallback, Babel money/dates, errors with line."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from hub.errors import TemplateError
from hub.send.templates import Renderer

BUILTIN = Path(__file__).resolve().parents[2] / "hub" / "send" / "default_templates"
STEPS = ("courtesy", "first_reminder", "second_reminder", "formal_notice", "short_reminder",
         "call_script", "agency_file", "instalment_reminder")


def ctx(locale="fr_FR", currency="EUR", amount="1234.56", name="Zoë <script>"):
    addr = {"line1": "1 rue", "city": "Lyon", "postcode": "69002", "country": "FR"}
    inv = {"number": "F-1", "total": Decimal(amount), "amount_due": Decimal(amount),
           "currency": currency, "issue_date": dt.date(2026, 10, 1), "due_date": dt.date(2026, 11, 1),
           "days_overdue": 23, "online_url": None, "disputed_amount": None}
    return {"company": {"name": "Acme", "signatory": "J", "email": "a@b.fr", "phone": "+33 1",
                        "address": addr},
            "customer": {"name": name, "code": "C1", "email": "z@x.fr", "phone": "+33 6",
                         "address": addr},
            "invoices": [inv], "totals": [{"currency": currency, "amount": Decimal(amount)}],
            "outstanding": [], "payment_link": None, "signatory": "Jeanne", "history": [],
            "today": dt.date(2026, 11, 24), "locale": locale, "language": locale[:2],
            "step": "due+3d", "scenario": "standard", "channel": "email",
            "previous_reminders": [{"step": "due+3d"}], "registered_mail": True, "law": "FR", "credits": [],
            "promise": None, "broken_promise": None, "dispute": None, "claim": None,
            "payment_plan": {"currency": currency, "instalments": [
                {"date": dt.date(2026, 12, 15), "amount": Decimal("300")}]},
            "instalment": {"date": dt.date(2026, 12, 15), "amount": Decimal("300")}}


@pytest.mark.parametrize("locale,currency,amount,expected", [
    ("fr_FR", "EUR", "1234.56", "1\u202f234,56\u00a0€"),
    ("en_IE", "EUR", "1234.56", "€1,234.56"),
    ("en_US", "USD", "1234.5", "$1,234.50"),
    ("ja_JP", "JPY", "120000", "￥120,000"),
])
def test_money_is_formatted_by_babel(tmp_path, locale, currency, amount, expected):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "m.j2").write_text(
        "{% block text %}{{ invoices[0].amount_due|money(invoices[0].currency) }}{% endblock %}")
    out = Renderer([tmp_path]).render("m", "en", ctx(locale, currency, amount))
    assert out.text == expected


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("name", STEPS)
def test_every_builtin_template_renders_in_both_languages(language, name):
    out = Renderer([BUILTIN]).render(name, language, ctx("fr_FR" if language == "fr" else "en_GB"))
    assert out.template == f"{language}/{name}.j2"
    assert ("Acme" if name == "short_reminder" else "F-1") in out.text
    if name not in ("short_reminder", "call_script", "agency_file"):
        assert out.subject and out.html and "<script>" not in out.html
        assert "&lt;script&gt;" in out.html or name == "formal_notice" or "Madame" in out.html


def test_sms_template_fits_one_segment():
    out = Renderer([BUILTIN]).render("short_reminder", "en", ctx("en_GB"))
    assert len(out.text) <= 160


def test_language_fallback_chain(tmp_path):
    for lang in ("fr", "en"):
        (tmp_path / lang).mkdir()
        (tmp_path / lang / "t.j2").write_text(f"{{% block text %}}{lang}{{% endblock %}}")
    r = Renderer([tmp_path], default_language="en")
    assert r.render("t", "fr_BE", ctx()).text == "fr"
    assert r.render("t", "de", ctx()).text == "en"
    with pytest.raises(TemplateError, match="no template 'missing'"):
        r.render("missing", "fr", ctx())


def test_workspace_templates_override_builtins(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "courtesy.j2").write_text("{% block subject %}Ours{% endblock %}{% block text %}x{% endblock %}")
    assert Renderer([tmp_path, BUILTIN]).render("courtesy", "en", ctx()).subject == "Ours"


def test_undefined_variable_names_template_and_line(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "t.j2").write_text("{% block text %}\nline two\n{{ customer.nmae }}\n{% endblock %}")
    with pytest.raises(TemplateError) as e:
        Renderer([tmp_path]).render("t", "en", ctx())
    assert e.value.place == "en/t.j2:3" and "nmae" in str(e.value)


def test_syntax_error_names_line_and_check_all_reports_it(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "bad.j2").write_text("{% block text %}\n{% if %}\n{% endblock %}")
    (tmp_path / "en" / "good.j2").write_text("{% block text %}ok{% endblock %}")
    r = Renderer([tmp_path])
    with pytest.raises(TemplateError) as e:
        r.render("bad", "en", ctx())
    assert e.value.place == "en/bad.j2:2"
    [problem] = r.check_all()
    assert "bad.j2:2" in problem
    assert r.render("good", "en", ctx()).text == "ok"


def test_sandbox_refuses_python_internals(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "evil.j2").write_text(
        "{% block text %}{{ ''.__class__.__mro__[1].__subclasses__() }}{% endblock %}")
    with pytest.raises(TemplateError, match=r"SecurityError|unsafe"):
        Renderer([tmp_path]).render("evil", "en", ctx())


@pytest.mark.parametrize("language,country,company,expected", [
    ("en", None, "en_GB", "3 December 2026"),   # a GB company's customer of unknown country
    ("en", "US", "en_GB", "December 3, 2026"),  # the customer's own country wins
    ("fr", None, "en_GB", "3 décembre 2026"),   # no fr_GB in CLDR: plain French
    ("en", None, "fr_FR", "3 December 2026"),   # en_FR: day first, as in France
])
def test_a_customer_without_country_gets_the_company_country_dates(language, country, company,
                                                                   expected):
    from babel.dates import format_date

    from hub.send.compose import babel_locale

    locale = babel_locale(language, country, company)
    assert format_date(dt.date(2026, 12, 3), "long", locale=locale) == expected


@pytest.mark.parametrize("language", ["en", "fr"])
def test_notices_claim_only_what_happened(language):
    """No "despite our previous reminders" on a first contact, no "registered letter" on
    an e-mail, no French commercial code outside French law."""
    first = ctx("fr_FR" if language == "fr" else "en_GB") | {
        "previous_reminders": [], "registered_mail": False, "law": "GB"}
    text = Renderer([BUILTIN]).render("formal_notice", language, first).text
    assert "Despite" not in text and "Malgré" not in text
    assert "recommandée" not in text and "L441-10" not in text
    later = first | {"previous_reminders": [{"step": "due+3d"}], "registered_mail": True,
                     "law": "FR"}
    text = Renderer([BUILTIN]).render("formal_notice", language, later).text
    assert ("Despite our previous reminders" in text) if language == "en" else \
        ("Malgré nos précédentes relances" in text and "Lettre recommandée" in text
         and "L441-10" in text)


@pytest.mark.parametrize("language,words", [("en", "You promised to pay"),
                                            ("fr", "Vous vous étiez engagé à régler")])
def test_a_reminder_after_a_broken_promise_says_so_and_only_then(language, words):
    base = ctx("fr_FR" if language == "fr" else "en_GB")
    plain = Renderer([BUILTIN]).render("first_reminder", language, base).text
    assert words not in plain
    broken = base | {"broken_promise": {"kind": "promise", "amount": Decimal("500"),
                                        "currency": "EUR", "date": dt.date(2026, 11, 20),
                                        "why": "", "instalments": []}}
    text = Renderer([BUILTIN]).render("first_reminder", language, broken)
    assert words in text.text and words.split()[0] in text.html
    assert "500" in text.text


@pytest.mark.parametrize("language,words", [("en", "Interest and compensation claimed: "),
                                            ("fr", "Pénalités et indemnités réclamées : ")])
def test_a_formal_notice_shows_the_claim_breakdown(language, words):
    base = ctx("fr_FR" if language == "fr" else "en_GB", amount="10000.00")
    claim = {"law": "Code de commerce, art. L441-10 et D441-5", "on": dt.date(2025, 6, 1),
             "lines": [{"number": "F-1", "currency": "EUR", "days_late": 92,
                        "rate_percent": Decimal("13.15"), "interest": Decimal("331.45"),
                        "fixed_compensation": Decimal("40.00")}],
             "totals": [{"currency": "EUR", "interest": Decimal("331.45"),
                         "fixed_compensation": Decimal("40.00")}]}
    plain = Renderer([BUILTIN]).render("formal_notice", language, base)
    assert words not in plain.text
    out = Renderer([BUILTIN]).render("formal_notice", language, base | {"claim": claim})
    assert words in out.text and "L441-10" in out.text and "13.15 %" in out.text
    assert "331" in out.html and "92" in out.html
