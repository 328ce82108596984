"""The frozen disclosure content as an A4 PDF in one of the deployment's languages.

Every line starts at the left margin: fpdf2's ``multi_cell`` leaves the cursor at the cell's
right edge by default, which once pushed each paragraph after the first off the page, so a
filed KIIS showed its disclaimer and terms as a few letters. The fixed texts are drawn from
the catalog in the requested language; what the owner wrote is shown as written.
"""

from datetime import datetime
from pathlib import Path

from babel.numbers import format_decimal
from flask_babel import force_locale, gettext
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from app.campaigns.kiis import MAX_PAGES, texts
from app.core.labels import label
from app.core.money import format_money

FONTS = Path(__file__).parent / "fonts"


class TooLong(ValueError):
    """The document would not fit ``MAX_PAGES`` A4 sides."""

    def __init__(self, pages: int) -> None:
        super().__init__(f"The document would take {pages} pages; the limit is {MAX_PAGES}.")
        self.pages = pages


class _Sheet(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", size=8)
        self.cell(0, 8, f"{self.footer_text} · {self.page_no()}", align="C")


def render_pdf(content: dict, language: str | None = None) -> bytes:
    """The document in ``language`` (default: the one it was frozen in), DejaVu Sans so that
    Cyrillic and Baltic letters render. :raises TooLong: beyond ``MAX_PAGES`` sides."""
    language = language or content.get("language", "en")
    with force_locale(language):
        return _render(content, language)


def _render(content: dict, language: str) -> bytes:
    jurisdiction = content.get("jurisdiction", "EU")
    offer, instrument, project = content["offer"], content["instrument"], content["project"]
    rights = content.get("investor_rights", {})
    fixed = texts(jurisdiction, reflection_days=offer.get("reflection_days", 0),
                  complaint_days=rights.get("complaint_response_days", 30))
    currency = offer["currency"]

    def money(amount: int) -> str:
        return format_money(amount, currency, locale=language)

    def when(iso: str) -> str:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")

    def number(value: float) -> str:
        return format_decimal(round(value), locale=language)

    pdf = _Sheet(format="A4")
    pdf.footer_text = fixed["title"]
    pdf.set_creation_date(datetime.fromisoformat(content["frozen_at"]))
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()

    def write(text: str, *, size: float = 10, bold: bool = False, height: float = 5) -> None:
        pdf.set_font("DejaVu", "B" if bold else "", size)
        pdf.multi_cell(pdf.epw, height, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)

    def heading(text: str) -> None:
        pdf.ln(2)
        write(text, size=12, bold=True, height=7)

    owner = content["project_owner"]
    write(f"{fixed['title']}: {project['title']}", size=15, bold=True, height=8)
    if fixed["disclaimer"]:
        write(fixed["disclaimer"], size=8, height=4)
    write(gettext("Version %(version)s, frozen %(at)s", version=content["kiis_version"], at=when(content["frozen_at"])),
          size=8, height=4)
    write(fixed["risk_warning"], bold=True)

    if jurisdiction == "RU":
        heading(gettext("1. The person raising investments"))
    else:
        heading(gettext("Part A · Project owner and project"))
    write(gettext("Project owner: %(name)s, %(country)s; on the platform since %(since)s.", name=owner["name"],
                  country=owner["country"], since=owner.get("on_platform_since", "")))
    entity = owner.get("legal_entity")
    if entity:
        write(gettext("Registered as %(name)s (%(form)s), %(country)s, registration number %(number)s.",
                      name=entity["legal_name"], form=label(entity["legal_form"]),
                      country=entity["registration_country"], number=entity["registration_number"]))
    offers = owner.get("other_offers") or []
    if offers:
        write(gettext("Its other offers on this platform: %(offers)s.", offers="; ".join(
            f"{o['title']} ({label(o['status'])}, {format_money(o['raised'], o['currency'], locale=language)})"
            for o in offers)))
    else:
        write(gettext("This is its first offer on this platform."))
    write(fixed["responsibility"])
    if jurisdiction == "RU":
        heading(gettext("2. The project and the purpose of the investments"))
    write(gettext("Location: %(location)s, %(country)s · category: %(category)s · UN SDGs: %(sdgs)s",
                  location=project["location"], country=project["country"], category=label(project["category"]),
                  sdgs=", ".join(str(s) for s in project["sdgs"])))
    write(project["summary"], bold=True)
    write(project["description"])

    heading(gettext("3. Terms of the proposal") if jurisdiction == "RU"
            else gettext("Part B · Main features of the offer"))
    write(gettext("Target (minimum): %(target)s · maximum: %(max)s · minimum pledge: %(min)s",
                  target=money(offer["target_amount"]), max=money(offer["max_amount"]),
                  min=money(offer["min_pledge"])))
    write(gettext("Opens: %(opens)s · closes (deadline): %(closes)s",
                  opens=when(offer["opens_at"]) if offer["opens_at"] else gettext("on approval"),
                  closes=when(offer["closes_at"])))
    if offer.get("risk_class"):
        write(gettext("Risk class assigned by the platform: %(risk)s", risk=offer["risk_class"]))
    write(fixed["if_target_missed"])
    if fixed["reflection_period"]:
        write(fixed["reflection_period"])

    heading(gettext("4. Risks") if jurisdiction == "RU" else gettext("Part C · Risk factors"))
    for risk in fixed["risk_factors"]:
        write(f"• {risk}")

    heading(gettext("5. Loan terms and fees") if jurisdiction == "RU" else gettext("Part D · Loan terms and fees"))
    if instrument["type"] == "loan":
        write(gettext("Interest: %(rate)s %% a year · term: %(term)s months · repayment: %(kind)s",
                      rate=f"{instrument['interest_rate_bps'] / 100:.2f}", term=instrument["term_months"],
                      kind=label(instrument["repayment"])))
        ex = instrument["example_per_1000"]
        write(gettext("Example for %(invested)s invested: %(count)s instalments, the first %(first)s, total "
                      "interest %(interest)s, total repaid %(repaid)s.", invested=money(ex["invested"]),
                      count=ex["instalments"], first=money(ex["first_instalment"]),
                      interest=money(ex["total_interest"]), repaid=money(ex["total_repaid"])))
    else:
        write(gettext("This is a donation campaign: no interest and no repayment."))
    write(gettext("%(note)s Project owner fee: %(fee)s %%.", note=fixed["fees_note"],
                  fee=f"{content['fees']['project_owner_fee_bps'] / 100:.2f}"))

    heading(gettext("6. Investor rights, complaints and redress") if jurisdiction == "RU"
            else gettext("Part E · Investor rights, complaints and redress"))
    for right in fixed["rights"]:
        write(f"• {right}")
    write(fixed["complaints"])
    write(fixed["redress"])

    heading(gettext("7. Projected impact") if jurisdiction == "RU" else gettext("Part F · Projected impact"))
    write(gettext("%(co2)s tonnes of CO2 avoided and %(mwh)s MWh of energy saved or produced a year (projected).",
                  co2=number(content["impact"]["co2_tonnes_per_year"]),
                  mwh=number(content["impact"]["energy_mwh_per_year"])))
    try:
        if pdf.page_no() > MAX_PAGES:
            raise TooLong(pdf.page_no())
        return bytes(pdf.output())
    finally:
        # fpdf2 2.8 opens each TTF lazily with fontTools and never closes it: without this
        # every render leaks two file handles (a ResourceWarning at garbage collection).
        for font in pdf.fonts.values():
            if getattr(font, "ttfont", None) is not None:
                font.ttfont.close()
